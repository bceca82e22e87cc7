package awsproto

import (
	"encoding/binary"
	"math"
	"reflect"

	"github.com/fxamacker/cbor/v2"
)

// cborDecoder decodes one CBOR item (RFC 8949) into a codec's Go type in a
// single pass, accepting everything Jackson's CBOR generator (the AWS Java
// SDKs) writes: definite and indefinite-length maps, arrays and strings,
// integers of any width, half/single/double floats, tags. Like the JSON
// decoder it reports syntax errors at once and the first type error after
// the whole item has been checked.
type cborDecoder struct {
	data    []byte
	pos     int
	depth   int
	typeErr string
	hasErr  bool
	slab    slab
	scratch []byte // joined chunks of indefinite-length strings
}

// CBOR major types.
const (
	majorUint   = 0
	majorNegInt = 1
	majorBytes  = 2
	majorText   = 3
	majorArray  = 4
	majorMap    = 5
	majorTag    = 6
	majorSimple = 7
)

const (
	cborFalse     = 0xf4
	cborTrue      = 0xf5
	cborNull      = 0xf6
	cborUndefined = 0xf7
	cborBreak     = 0xff
	infoIndef     = 31
)

// top decodes a request body: a map at the top level (tags around it are
// ignored).
func (d *cborDecoder) top(c *codec, v reflect.Value) error {
	p := d.pos
	for p < len(d.data) && d.data[p]>>5 == majorTag {
		h, ok := d.peekHead(p)
		if !ok {
			return serializationError("")
		}
		p = h.next
	}
	if p < len(d.data) {
		switch d.data[p] >> 5 {
		case majorMap:
		case majorArray:
			d.mismatch(msgListNotExpected)
		default:
			return serializationError("")
		}
	}
	return d.single(c, v)
}

// single decodes one item that must fill the whole input.
func (d *cborDecoder) single(c *codec, v reflect.Value) error {
	err := d.value(c, v)
	if err == nil && d.pos != len(d.data) {
		err = errSyntax
	}
	if err != nil {
		return serializationError("")
	}
	if d.hasErr {
		return serializationError(d.typeErr)
	}
	return nil
}

func (d *cborDecoder) mismatch(msg string) {
	if !d.hasErr {
		d.hasErr, d.typeErr = true, msg
	}
}

func (d *cborDecoder) enter() error {
	d.depth++
	if d.depth > maxDepth {
		return errSyntax
	}
	return nil
}

// head is an item's initial byte and argument.
type head struct {
	major byte
	info  byte
	arg   uint64 // value, length or count; unused when info == infoIndef
	next  int    // offset just past the head
}

// peekHead reads the head at offset p without consuming it.
func (d *cborDecoder) peekHead(p int) (head, bool) {
	if p >= len(d.data) {
		return head{}, false
	}
	ib := d.data[p]
	h := head{major: ib >> 5, info: ib & 31, next: p + 1}
	switch {
	case h.info < 24:
		h.arg = uint64(h.info)
	case h.info <= 27:
		n := 1 << (h.info - 24)
		if len(d.data)-h.next < n {
			return head{}, false
		}
		b := d.data[h.next : h.next+n]
		switch n {
		case 1:
			h.arg = uint64(b[0])
		case 2:
			h.arg = uint64(binary.BigEndian.Uint16(b))
		case 4:
			h.arg = uint64(binary.BigEndian.Uint32(b))
		default:
			h.arg = binary.BigEndian.Uint64(b)
		}
		h.next += n
	case h.info == infoIndef:
		switch h.major {
		case majorBytes, majorText, majorArray, majorMap, majorSimple:
		default:
			return head{}, false
		}
	default: // 28..30 are reserved
		return head{}, false
	}
	return h, true
}

func (d *cborDecoder) readHead() (head, error) {
	h, ok := d.peekHead(d.pos)
	if !ok {
		return head{}, errSyntax
	}
	d.pos = h.next
	return h, nil
}

// remaining is how many bytes of input are left.
func (d *cborDecoder) remaining() int { return len(d.data) - d.pos }

// value decodes the next item into v. Only syntax errors are returned.
func (d *cborDecoder) value(c *codec, v reflect.Value) error {
	if c.kind == kindPtr {
		if d.atNull() {
			return d.skip() // absent: the pointer stays nil
		}
		if v.IsNil() {
			v.Set(reflect.New(c.elem.typ))
		}
		return d.value(c.elem, v.Elem())
	}
	if c.cborU {
		return d.custom(v)
	}
	start := d.pos
	h, err := d.readHead()
	if err != nil {
		return err
	}
	// Tags: Jackson ignores them. Tags 2 and 3 (bignums) are numbers.
	tags := 0
	for h.major == majorTag {
		if tags++; tags > maxDepth {
			return errSyntax
		}
		if h.arg == 2 || h.arg == 3 {
			return d.bignum(c, v, h.arg == 3)
		}
		if h, err = d.readHead(); err != nil {
			return err
		}
	}
	if h.major == majorSimple && (h.info == 22 || h.info == 23) {
		return nil // null and undefined: absent
	}
	switch h.major {
	case majorUint:
		d.intInto(c, v, false, h.arg)
		return nil
	case majorNegInt:
		d.intInto(c, v, true, h.arg)
		return nil
	case majorBytes:
		b, err := d.str(h)
		if err != nil {
			return err
		}
		d.bytesInto(c, v, b)
		return nil
	case majorText:
		b, err := d.str(h)
		if err != nil {
			return err
		}
		d.textInto(c, v, b)
		return nil
	case majorArray:
		switch c.kind {
		case kindSlice:
			return d.array(c, v, h)
		case kindAny:
			return d.anyInto(v, start)
		}
		d.mismatch(msgListNotExpected)
		d.pos = start
		return d.skip()
	case majorMap:
		switch c.kind {
		case kindStruct:
			return d.object(c, v, h)
		case kindMap:
			return d.mapValue(c, v, h)
		case kindAny:
			return d.anyInto(v, start)
		}
		d.mismatch(msgStructNotExpected)
		d.pos = start
		return d.skip()
	}
	// Major type 7: booleans and floats.
	switch h.info {
	case 20, 21:
		d.boolInto(c, v, h.info == 21)
		return nil
	case 25:
		d.floatInto(c, v, halfToFloat(uint16(h.arg)))
		return nil
	case 26:
		d.floatInto(c, v, float64(math.Float32frombits(uint32(h.arg))))
		return nil
	case 27:
		d.floatInto(c, v, math.Float64frombits(h.arg))
		return nil
	}
	return errSyntax // break outside a container, or an unassigned simple value
}

// atNull reports whether the next item, past any tags, is null or
// undefined.
func (d *cborDecoder) atNull() bool {
	p := d.pos
	for p < len(d.data) && d.data[p]>>5 == majorTag {
		h, ok := d.peekHead(p)
		if !ok {
			return false
		}
		p = h.next
	}
	return p < len(d.data) && (d.data[p] == cborNull || d.data[p] == cborUndefined)
}

// custom hands the raw item to the type's UnmarshalCBOR.
func (d *cborDecoder) custom(v reflect.Value) error {
	start := d.pos
	if err := d.skip(); err != nil {
		return err
	}
	u := v.Addr().Interface().(cbor.Unmarshaler)
	if err := u.UnmarshalCBOR(d.data[start:d.pos]); err != nil {
		msg := ""
		if e, ok := err.(*Error); ok {
			msg = e.Message
		}
		d.mismatch(msg)
	}
	return nil
}

// str reads the contents of a byte or text string whose head is h. The
// bytes alias the input or d.scratch and are valid until the next string.
func (d *cborDecoder) str(h head) ([]byte, error) {
	if h.info != infoIndef {
		if h.arg > uint64(d.remaining()) {
			return nil, errSyntax
		}
		b := d.data[d.pos : d.pos+int(h.arg)]
		d.pos += int(h.arg)
		return b, nil
	}
	// Indefinite length: definite chunks of the same major type, then a break.
	out := d.scratch[:0]
	for {
		if d.pos >= len(d.data) {
			return nil, errSyntax
		}
		if d.data[d.pos] == cborBreak {
			d.pos++
			d.scratch = out
			return out, nil
		}
		ch, err := d.readHead()
		if err != nil {
			return nil, err
		}
		if ch.major != h.major || ch.info == infoIndef || ch.arg > uint64(d.remaining()) {
			return nil, errSyntax
		}
		out = append(out, d.data[d.pos:d.pos+int(ch.arg)]...)
		d.pos += int(ch.arg)
	}
}

func (d *cborDecoder) intInto(c *codec, v reflect.Value, neg bool, arg uint64) {
	// The integer is arg, or -1-arg; beyond int64 it saturates.
	var n int64
	switch {
	case !neg && arg > math.MaxInt64:
		n = math.MaxInt64
	case !neg:
		n = int64(arg)
	case arg > math.MaxInt64:
		n = math.MinInt64
	default:
		n = -1 - int64(arg)
	}
	switch c.kind {
	case kindInt, kindUint:
		setInt(c, v, n)
	case kindFloat:
		setFloat(v, float64(n))
	case kindTimestamp:
		setTimestamp(v, n) // integers are epoch milliseconds
	case kindAny:
		f := float64(n)
		v.Set(reflect.ValueOf(&f).Elem())
	default:
		d.mismatch(mismatch(c, wireNumber, ""))
	}
}

func (d *cborDecoder) floatInto(c *codec, v reflect.Value, f float64) {
	switch c.kind {
	case kindInt, kindUint:
		setInt(c, v, floatToInt(f))
	case kindFloat:
		setFloat(v, f)
	case kindTimestamp:
		setTimestamp(v, floatToInt(f*1000)) // floats are epoch seconds
	case kindAny:
		if f != f {
			f = 0
		}
		f = max(min(f, math.MaxFloat64), -math.MaxFloat64)
		v.Set(reflect.ValueOf(&f).Elem())
	default:
		d.mismatch(mismatch(c, wireNumber, ""))
	}
}

// bignum decodes tags 2 and 3 (unsigned and negative bignums) as integers,
// saturating beyond int64.
func (d *cborDecoder) bignum(c *codec, v reflect.Value, neg bool) error {
	h, err := d.readHead()
	if err != nil {
		return err
	}
	if h.major != majorBytes {
		return errSyntax
	}
	b, err := d.str(h)
	if err != nil {
		return err
	}
	for len(b) > 0 && b[0] == 0 {
		b = b[1:]
	}
	var arg uint64
	if len(b) > 8 {
		arg = math.MaxUint64
	} else {
		for _, x := range b {
			arg = arg<<8 | uint64(x)
		}
	}
	d.intInto(c, v, neg, arg)
	return nil
}

func (d *cborDecoder) bytesInto(c *codec, v reflect.Value, b []byte) {
	switch c.kind {
	case kindBlob:
		v.SetBytes(d.slab.copyBytes(b, d.remaining()+len(b)))
	case kindAny:
		x := append([]byte{}, b...)
		v.Set(reflect.ValueOf(&x).Elem())
	default:
		d.mismatch(mismatch(c, wireBytes, ""))
	}
}

func (d *cborDecoder) textInto(c *codec, v reflect.Value, b []byte) {
	switch c.kind {
	case kindString:
		v.SetString(validString(b))
	case kindBlob:
		// Jackson reads base64 text for a blob too.
		blob, msg := d.slab.decodeBase64([]byte(validString(b)), d.remaining()+len(b))
		if msg != "" {
			d.mismatch(msg)
			return
		}
		v.SetBytes(blob)
	case kindBool:
		s := validString(b)
		if val, ok := boolFromText(s); ok {
			v.SetBool(val)
		} else {
			d.mismatch(mismatch(c, wireString, s))
		}
	case kindAny:
		s := validString(b)
		v.Set(reflect.ValueOf(&s).Elem())
	default:
		d.mismatch(mismatch(c, wireString, ""))
	}
}

func (d *cborDecoder) boolInto(c *codec, v reflect.Value, b bool) {
	switch c.kind {
	case kindBool:
		v.SetBool(b)
	case kindAny:
		v.Set(reflect.ValueOf(&b).Elem())
	default:
		d.mismatch(mismatch(c, wireBool, ""))
	}
}

// count checks a definite container's count against the input left: every
// item takes at least one byte, so a larger count is malformed (and would
// otherwise let a few bytes demand a huge allocation).
func (d *cborDecoder) count(h head, itemsPer uint64) (int, error) {
	if h.arg > uint64(d.remaining())/itemsPer {
		return 0, errSyntax
	}
	return int(h.arg), nil
}

// more reports whether a container whose head is h has another item after
// i items, consuming the break of an indefinite one.
func (d *cborDecoder) more(h head, i, n int) (bool, error) {
	if h.info != infoIndef {
		return i < n, nil
	}
	if d.pos >= len(d.data) {
		return false, errSyntax
	}
	if d.data[d.pos] == cborBreak {
		d.pos++
		return false, nil
	}
	return true, nil
}

// object decodes a map into a struct, member by member.
func (d *cborDecoder) object(c *codec, v reflect.Value, h head) error {
	if err := d.enter(); err != nil {
		return err
	}
	n, err := d.count(h, 2)
	if err != nil {
		return err
	}
	for i := 0; ; i++ {
		more, err := d.more(h, i, n)
		if err != nil {
			return err
		}
		if !more {
			break
		}
		key, err := d.key()
		if err != nil {
			return err
		}
		if fi, ok := c.byName[string(key)]; ok {
			f := &c.fields[fi]
			err = d.value(f.c, fieldValue(v, f))
		} else {
			err = d.skip()
		}
		if err != nil {
			return err
		}
	}
	d.depth--
	return nil
}

// key reads a member name: a text string, definite or not.
func (d *cborDecoder) key() ([]byte, error) {
	h, err := d.readHead()
	if err != nil {
		return nil, err
	}
	if h.major != majorText {
		return nil, errSyntax
	}
	return d.str(h)
}

func (d *cborDecoder) mapValue(c *codec, v reflect.Value, h head) error {
	if err := d.enter(); err != nil {
		return err
	}
	n, err := d.count(h, 2)
	if err != nil {
		return err
	}
	if v.IsNil() {
		v.Set(reflect.MakeMap(c.typ))
	}
	keyType := c.typ.Key()
	for i := 0; ; i++ {
		more, err := d.more(h, i, n)
		if err != nil {
			return err
		}
		if !more {
			break
		}
		raw, err := d.key()
		if err != nil {
			return err
		}
		k := reflect.New(keyType).Elem()
		k.SetString(validString(raw))
		elem := reflect.New(c.elem.typ).Elem()
		if err := d.value(c.elem, elem); err != nil {
			return err
		}
		v.SetMapIndex(k, elem)
	}
	d.depth--
	return nil
}

// array decodes a list into a fresh slice.
func (d *cborDecoder) array(c *codec, v reflect.Value, h head) error {
	if err := d.enter(); err != nil {
		return err
	}
	n, err := d.count(h, 1)
	if err != nil {
		return err
	}
	// Preallocate for a definite count, but not more than a sane amount:
	// the elements, not the header, pay for memory.
	v.Set(reflect.MakeSlice(c.typ, 0, min(max(n, 4), 1024)))
	for i := 0; ; i++ {
		more, err := d.more(h, i, n)
		if err != nil {
			return err
		}
		if !more {
			break
		}
		if i == v.Cap() {
			v.Grow(i)
		}
		v.SetLen(i + 1)
		if err := d.value(c.elem, v.Index(i)); err != nil {
			return err
		}
	}
	d.depth--
	return nil
}

// skip consumes one item of any type, checking that it is well-formed.
func (d *cborDecoder) skip() error {
	h, err := d.readHead()
	if err != nil {
		return err
	}
	switch h.major {
	case majorUint, majorNegInt:
		return nil
	case majorBytes, majorText:
		_, err := d.str(h)
		return err
	case majorArray, majorMap:
		if err := d.enter(); err != nil {
			return err
		}
		per := uint64(1)
		if h.major == majorMap {
			per = 2
		}
		n, err := d.count(h, per)
		if err != nil {
			return err
		}
		for i := 0; ; i++ {
			more, err := d.more(h, i, n)
			if err != nil {
				return err
			}
			if !more {
				break
			}
			if h.major == majorMap {
				if _, err := d.key(); err != nil {
					return err
				}
			}
			if err := d.skip(); err != nil {
				return err
			}
		}
		d.depth--
		return nil
	case majorTag:
		if err := d.enter(); err != nil {
			return err
		}
		// A bignum's content must be a byte string, as when it is decoded.
		if (h.arg == 2 || h.arg == 3) && (d.pos >= len(d.data) || d.data[d.pos]>>5 != majorBytes) {
			return errSyntax
		}
		err := d.skip()
		d.depth--
		return err
	}
	switch h.info {
	case 20, 21, 22, 23, 25, 26, 27:
		return nil
	}
	return errSyntax
}

// anyInto decodes the item at start generically into an interface value.
func (d *cborDecoder) anyInto(v reflect.Value, start int) error {
	d.pos = start
	x, err := d.anyValue()
	if err == nil && x != nil {
		v.Set(reflect.ValueOf(&x).Elem())
	}
	return err
}

// anyValue decodes one item generically: map[string]any, []any, string,
// []byte, float64, bool or nil.
func (d *cborDecoder) anyValue() (any, error) {
	var x any
	start := d.pos
	h, err := d.readHead()
	if err != nil {
		return nil, err
	}
	switch h.major {
	case majorArray:
		if err := d.enter(); err != nil {
			return nil, err
		}
		n, err := d.count(h, 1)
		if err != nil {
			return nil, err
		}
		l := []any{}
		for i := 0; ; i++ {
			more, err := d.more(h, i, n)
			if err != nil {
				return nil, err
			}
			if !more {
				break
			}
			e, err := d.anyValue()
			if err != nil {
				return nil, err
			}
			l = append(l, e)
		}
		d.depth--
		return l, nil
	case majorMap:
		if err := d.enter(); err != nil {
			return nil, err
		}
		n, err := d.count(h, 2)
		if err != nil {
			return nil, err
		}
		m := map[string]any{}
		for i := 0; ; i++ {
			more, err := d.more(h, i, n)
			if err != nil {
				return nil, err
			}
			if !more {
				break
			}
			raw, err := d.key()
			if err != nil {
				return nil, err
			}
			k := validString(raw)
			e, err := d.anyValue()
			if err != nil {
				return nil, err
			}
			m[k] = e
		}
		d.depth--
		return m, nil
	case majorTag:
		if err := d.enter(); err != nil {
			return nil, err
		}
		if h.arg == 2 || h.arg == 3 {
			d.pos = start
			err = d.value(anyCodec, reflect.ValueOf(&x).Elem())
		} else {
			x, err = d.anyValue()
		}
		d.depth--
		return x, err
	}
	d.pos = start
	err = d.value(anyCodec, reflect.ValueOf(&x).Elem())
	return x, err
}

var anyCodec = codecFor(reflect.TypeFor[any]())

// halfToFloat converts an IEEE 754 half-precision float.
func halfToFloat(h uint16) float64 {
	sign := 1.0
	if h&0x8000 != 0 {
		sign = -1
	}
	exp := int(h>>10) & 0x1f
	mant := float64(h & 0x3ff)
	switch exp {
	case 0:
		return sign * math.Ldexp(mant, -24)
	case 0x1f:
		if mant == 0 {
			return math.Inf(int(sign))
		}
		return math.NaN()
	}
	return sign * math.Ldexp(mant+1024, exp-25)
}
