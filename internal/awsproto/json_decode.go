package awsproto

import (
	"encoding/json"
	"math"
	"reflect"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// jsonDecoder decodes one JSON document into a codec's Go type in a single
// pass. Syntax errors stop it; the first type error is remembered and the
// rest of the document is still checked, because AWS parses the whole
// body before it binds it.
type jsonDecoder struct {
	data    []byte
	pos     int
	depth   int
	typeErr string // first type mismatch, reported if the syntax is fine
	hasErr  bool
	slab    slab
	scratch []byte // unescaped strings
}

// top decodes a request body: an object at the top level.
func (d *jsonDecoder) top(c *codec, v reflect.Value) error {
	d.skipWS()
	if d.pos < len(d.data) {
		switch d.data[d.pos] {
		case '{':
		case '[':
			d.mismatch(msgListNotExpected)
		default:
			// null, a string, a number: AWS answers without a message.
			return serializationError("")
		}
	}
	return d.single(c, v)
}

// single decodes one value that must fill the whole input.
func (d *jsonDecoder) single(c *codec, v reflect.Value) error {
	err := d.value(c, v)
	if err == nil {
		d.skipWS()
		if d.pos != len(d.data) {
			err = errSyntax
		}
	}
	if err != nil {
		return serializationError("")
	}
	if d.hasErr {
		return serializationError(d.typeErr)
	}
	return nil
}

func (d *jsonDecoder) mismatch(msg string) {
	if !d.hasErr {
		d.hasErr, d.typeErr = true, msg
	}
}

func (d *jsonDecoder) skipWS() {
	for d.pos < len(d.data) {
		switch d.data[d.pos] {
		case ' ', '\t', '\n', '\r':
			d.pos++
		default:
			return
		}
	}
}

// value decodes the next value into v. Only syntax errors are returned.
func (d *jsonDecoder) value(c *codec, v reflect.Value) error {
	d.skipWS()
	if d.pos >= len(d.data) {
		return errSyntax
	}
	b := d.data[d.pos]
	if b == 'n' {
		return d.literal("null") // absent: v is left as is
	}
	if c.kind == kindPtr {
		if v.IsNil() {
			v.Set(reflect.New(c.elem.typ))
		}
		return d.value(c.elem, v.Elem())
	}
	if c.jsonU {
		return d.custom(v)
	}
	switch b {
	case '{':
		switch c.kind {
		case kindStruct:
			return d.object(c, v)
		case kindMap:
			return d.mapValue(c, v)
		case kindAny:
			x, err := d.anyValue()
			if err == nil {
				v.Set(reflect.ValueOf(&x).Elem())
			}
			return err
		}
		d.mismatch(msgStructNotExpected)
		return d.skip()
	case '[':
		switch c.kind {
		case kindSlice:
			return d.array(c, v)
		case kindAny:
			x, err := d.anyValue()
			if err == nil {
				v.Set(reflect.ValueOf(&x).Elem())
			}
			return err
		}
		d.mismatch(msgListNotExpected)
		return d.skip()
	case '"':
		return d.stringValue(c, v)
	case 't':
		if err := d.literal("true"); err != nil {
			return err
		}
		d.boolInto(c, v, true)
		return nil
	case 'f':
		if err := d.literal("false"); err != nil {
			return err
		}
		d.boolInto(c, v, false)
		return nil
	}
	return d.numberValue(c, v)
}

func (d *jsonDecoder) literal(word string) error {
	if len(d.data)-d.pos < len(word) || string(d.data[d.pos:d.pos+len(word)]) != word {
		return errSyntax
	}
	d.pos += len(word)
	return nil
}

// custom hands the raw value to the type's UnmarshalJSON.
func (d *jsonDecoder) custom(v reflect.Value) error {
	start := d.pos
	if err := d.skip(); err != nil {
		return err
	}
	u := v.Addr().Interface().(json.Unmarshaler)
	if err := u.UnmarshalJSON(d.data[start:d.pos]); err != nil {
		msg := ""
		if e, ok := err.(*Error); ok {
			msg = e.Message
		}
		d.mismatch(msg)
	}
	return nil
}

func (d *jsonDecoder) enter() error {
	d.depth++
	if d.depth > maxDepth {
		return errSyntax
	}
	return nil
}

// object decodes an object into a struct, member by member.
func (d *jsonDecoder) object(c *codec, v reflect.Value) error {
	if err := d.enter(); err != nil {
		return err
	}
	d.pos++ // '{'
	d.skipWS()
	if d.pos < len(d.data) && d.data[d.pos] == '}' {
		d.pos++
		d.depth--
		return nil
	}
	for {
		d.skipWS()
		key, err := d.key()
		if err != nil {
			return err
		}
		if i, ok := c.byName[string(key)]; ok {
			f := &c.fields[i]
			err = d.value(f.c, fieldValue(v, f))
		} else {
			err = d.skip()
		}
		if err != nil {
			return err
		}
		if done, err := d.next('}'); err != nil || done {
			d.depth--
			return err
		}
	}
}

// key reads a member name and the colon after it. The returned bytes are
// only valid until the next string is read.
func (d *jsonDecoder) key() ([]byte, error) {
	raw, escaped, _, err := d.scanString()
	if err != nil {
		return nil, err
	}
	if escaped {
		raw = d.unescape(raw)
	}
	d.skipWS()
	if d.pos >= len(d.data) || d.data[d.pos] != ':' {
		return nil, errSyntax
	}
	d.pos++
	return raw, nil
}

// next consumes the ',' or closing byte after a member or element and
// reports whether the container ended.
func (d *jsonDecoder) next(closing byte) (bool, error) {
	d.skipWS()
	if d.pos >= len(d.data) {
		return false, errSyntax
	}
	switch d.data[d.pos] {
	case ',':
		d.pos++
		return false, nil
	case closing:
		d.pos++
		return true, nil
	}
	return false, errSyntax
}

func (d *jsonDecoder) mapValue(c *codec, v reflect.Value) error {
	if err := d.enter(); err != nil {
		return err
	}
	if v.IsNil() {
		v.Set(reflect.MakeMap(c.typ))
	}
	d.pos++ // '{'
	d.skipWS()
	if d.pos < len(d.data) && d.data[d.pos] == '}' {
		d.pos++
		d.depth--
		return nil
	}
	keyType := c.typ.Key()
	for {
		d.skipWS()
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
		if done, err := d.next('}'); err != nil || done {
			d.depth--
			return err
		}
	}
}

// array decodes a list into a fresh slice (a repeated member replaces the
// earlier one, as in JavaScript).
func (d *jsonDecoder) array(c *codec, v reflect.Value) error {
	if err := d.enter(); err != nil {
		return err
	}
	v.Set(reflect.MakeSlice(c.typ, 0, 4))
	d.pos++ // '['
	d.skipWS()
	if d.pos < len(d.data) && d.data[d.pos] == ']' {
		d.pos++
		d.depth--
		return nil
	}
	for n := 0; ; n++ {
		if n == v.Cap() {
			v.Grow(n)
		}
		v.SetLen(n + 1)
		if err := d.value(c.elem, v.Index(n)); err != nil {
			return err
		}
		if done, err := d.next(']'); err != nil || done {
			d.depth--
			return err
		}
	}
}

// scanString reads a string token at d.pos and returns its raw contents
// (between the quotes), whether it holds escapes, and whether it holds
// bytes outside ASCII.
func (d *jsonDecoder) scanString() (raw []byte, escaped, nonASCII bool, err error) {
	if d.pos >= len(d.data) || d.data[d.pos] != '"' {
		return nil, false, false, errSyntax
	}
	start := d.pos + 1
	i := start
	for i < len(d.data) {
		// Most bytes are plain ASCII: skip them in a tight loop.
		for i < len(d.data) && plainStringByte[d.data[i]] {
			i++
		}
		if i >= len(d.data) {
			break
		}
		c := d.data[i]
		switch {
		case c == '"':
			d.pos = i + 1
			return d.data[start:i], escaped, nonASCII, nil
		case c == '\\':
			escaped = true
			if i+1 >= len(d.data) {
				return nil, false, false, errSyntax
			}
			switch d.data[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				if i+6 > len(d.data) || !isHex4(d.data[i+2:i+6]) {
					return nil, false, false, errSyntax
				}
				i += 6
			default:
				return nil, false, false, errSyntax
			}
		case c < 0x20:
			return nil, false, false, errSyntax
		default:
			if c >= utf8.RuneSelf {
				nonASCII = true
			}
			i++
		}
	}
	return nil, false, false, errSyntax
}

// plainStringByte marks the bytes that need no attention inside a string:
// printable ASCII other than '"' and '\\'.
var plainStringByte = func() (t [256]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

func isHex4(b []byte) bool {
	for _, c := range b {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}

func hex4(b []byte) rune {
	var r rune
	for _, c := range b {
		switch {
		case c <= '9':
			c -= '0'
		case c <= 'F':
			c -= 'A' - 10
		default:
			c -= 'a' - 10
		}
		r = r<<4 | rune(c)
	}
	return r
}

// unescape decodes the escapes of a scanned string into d.scratch. Lone
// surrogates become U+FFFD, as in encoding/json.
func (d *jsonDecoder) unescape(raw []byte) []byte {
	out := d.scratch[:0]
	for i := 0; i < len(raw); {
		c := raw[i]
		if c != '\\' {
			out = append(out, c)
			i++
			continue
		}
		switch raw[i+1] {
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'u':
			r := hex4(raw[i+2 : i+6])
			i += 6
			if utf16.IsSurrogate(r) {
				r2 := utf8.RuneError
				if i+6 <= len(raw) && raw[i] == '\\' && raw[i+1] == 'u' {
					r2 = utf16.DecodeRune(r, hex4(raw[i+2:i+6]))
				}
				if r2 != utf8.RuneError {
					i += 6
				}
				r = r2
			}
			out = utf8.AppendRune(out, r)
			continue
		default: // '"', '\\', '/'
			out = append(out, raw[i+1])
		}
		i += 2
	}
	d.scratch = out
	return out
}

// text returns a scanned string's value as bytes valid until the next
// string is read.
func (d *jsonDecoder) text(raw []byte, escaped bool) []byte {
	if escaped {
		return d.unescape(raw)
	}
	return raw
}

func (d *jsonDecoder) stringValue(c *codec, v reflect.Value) error {
	raw, escaped, nonASCII, err := d.scanString()
	if err != nil {
		return err
	}
	switch c.kind {
	case kindString:
		if !escaped && !nonASCII {
			v.SetString(string(raw))
		} else {
			v.SetString(validString(d.text(raw, escaped)))
		}
	case kindBlob:
		t := d.text(raw, escaped)
		if nonASCII {
			t = []byte(validString(t))
		}
		// Base64 text decodes to 3/4 of its length: that bounds what the
		// rest of the body can still need.
		b, msg := d.slab.decodeBase64(t, (len(d.data)-d.pos)/4*3)
		if msg != "" {
			d.mismatch(msg)
			return nil
		}
		v.SetBytes(b)
	case kindBool:
		s := validString(d.text(raw, escaped))
		if b, ok := boolFromText(s); ok {
			v.SetBool(b)
		} else {
			d.mismatch(mismatch(c, wireString, s))
		}
	case kindAny:
		s := validString(d.text(raw, escaped))
		v.Set(reflect.ValueOf(&s).Elem())
	default:
		d.mismatch(mismatch(c, wireString, ""))
	}
	return nil
}

func (d *jsonDecoder) boolInto(c *codec, v reflect.Value, b bool) {
	switch c.kind {
	case kindBool:
		v.SetBool(b)
	case kindAny:
		v.Set(reflect.ValueOf(&b).Elem())
	default:
		d.mismatch(mismatch(c, wireBool, ""))
	}
}

// scanNumber reads a number token per the JSON grammar.
func (d *jsonDecoder) scanNumber() ([]byte, error) {
	start, i := d.pos, d.pos
	n := len(d.data)
	if i < n && d.data[i] == '-' {
		i++
	}
	switch {
	case i < n && d.data[i] == '0':
		i++
	case i < n && '1' <= d.data[i] && d.data[i] <= '9':
		for i < n && '0' <= d.data[i] && d.data[i] <= '9' {
			i++
		}
	default:
		return nil, errSyntax
	}
	if i < n && d.data[i] == '.' {
		i++
		j := i
		for i < n && '0' <= d.data[i] && d.data[i] <= '9' {
			i++
		}
		if i == j {
			return nil, errSyntax
		}
	}
	if i < n && (d.data[i] == 'e' || d.data[i] == 'E') {
		i++
		if i < n && (d.data[i] == '+' || d.data[i] == '-') {
			i++
		}
		j := i
		for i < n && '0' <= d.data[i] && d.data[i] <= '9' {
			i++
		}
		if i == j {
			return nil, errSyntax
		}
	}
	d.pos = i
	return d.data[start:i], nil
}

func (d *jsonDecoder) numberValue(c *codec, v reflect.Value) error {
	tok, err := d.scanNumber()
	if err != nil {
		return err
	}
	switch c.kind {
	case kindInt, kindUint:
		if n, ok := smallInt(tok); ok {
			setInt(c, v, n)
		} else {
			setInt(c, v, decimalFloor(tok, 0))
		}
	case kindFloat:
		f, _ := strconv.ParseFloat(string(tok), 64) // ±Inf on overflow, clamped
		setFloat(v, f)
	case kindTimestamp:
		setTimestamp(v, decimalFloor(tok, 3))
	case kindAny:
		f, _ := strconv.ParseFloat(string(tok), 64)
		f = max(min(f, math.MaxFloat64), -math.MaxFloat64)
		v.Set(reflect.ValueOf(&f).Elem())
	default:
		d.mismatch(mismatch(c, wireNumber, ""))
	}
	return nil
}

// smallInt parses a plain integer token of up to 18 digits.
func smallInt(tok []byte) (int64, bool) {
	neg := len(tok) > 0 && tok[0] == '-'
	digits := tok
	if neg {
		digits = tok[1:]
	}
	if len(digits) == 0 || len(digits) > 18 {
		return 0, false
	}
	var n int64
	for _, c := range digits {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	if neg {
		n = -n
	}
	return n, true
}

// skip consumes one value of any type, checking its syntax.
func (d *jsonDecoder) skip() error {
	d.skipWS()
	if d.pos >= len(d.data) {
		return errSyntax
	}
	switch d.data[d.pos] {
	case '{':
		if err := d.enter(); err != nil {
			return err
		}
		d.pos++
		d.skipWS()
		if d.pos < len(d.data) && d.data[d.pos] == '}' {
			d.pos++
			d.depth--
			return nil
		}
		for {
			d.skipWS()
			if _, _, _, err := d.scanString(); err != nil {
				return err
			}
			d.skipWS()
			if d.pos >= len(d.data) || d.data[d.pos] != ':' {
				return errSyntax
			}
			d.pos++
			if err := d.skip(); err != nil {
				return err
			}
			if done, err := d.next('}'); err != nil || done {
				d.depth--
				return err
			}
		}
	case '[':
		if err := d.enter(); err != nil {
			return err
		}
		d.pos++
		d.skipWS()
		if d.pos < len(d.data) && d.data[d.pos] == ']' {
			d.pos++
			d.depth--
			return nil
		}
		for {
			if err := d.skip(); err != nil {
				return err
			}
			if done, err := d.next(']'); err != nil || done {
				d.depth--
				return err
			}
		}
	case '"':
		_, _, _, err := d.scanString()
		return err
	case 't':
		return d.literal("true")
	case 'f':
		return d.literal("false")
	case 'n':
		return d.literal("null")
	}
	_, err := d.scanNumber()
	return err
}

// anyValue decodes a value generically: map[string]any, []any, string,
// float64, bool or nil.
func (d *jsonDecoder) anyValue() (any, error) {
	d.skipWS()
	if d.pos >= len(d.data) {
		return nil, errSyntax
	}
	switch d.data[d.pos] {
	case '{':
		if err := d.enter(); err != nil {
			return nil, err
		}
		m := map[string]any{}
		d.pos++
		d.skipWS()
		if d.pos < len(d.data) && d.data[d.pos] == '}' {
			d.pos++
			d.depth--
			return m, nil
		}
		for {
			d.skipWS()
			raw, err := d.key()
			if err != nil {
				return nil, err
			}
			k := validString(raw)
			x, err := d.anyValue()
			if err != nil {
				return nil, err
			}
			m[k] = x
			if done, err := d.next('}'); err != nil || done {
				d.depth--
				return m, err
			}
		}
	case '[':
		if err := d.enter(); err != nil {
			return nil, err
		}
		l := []any{}
		d.pos++
		d.skipWS()
		if d.pos < len(d.data) && d.data[d.pos] == ']' {
			d.pos++
			d.depth--
			return l, nil
		}
		for {
			x, err := d.anyValue()
			if err != nil {
				return nil, err
			}
			l = append(l, x)
			if done, err := d.next(']'); err != nil || done {
				d.depth--
				return l, err
			}
		}
	case '"':
		raw, escaped, _, err := d.scanString()
		if err != nil {
			return nil, err
		}
		return validString(d.text(raw, escaped)), nil
	case 't':
		return true, d.literal("true")
	case 'f':
		return false, d.literal("false")
	case 'n':
		return nil, d.literal("null")
	}
	tok, err := d.scanNumber()
	if err != nil {
		return nil, err
	}
	f, _ := strconv.ParseFloat(string(tok), 64)
	return max(min(f, math.MaxFloat64), -math.MaxFloat64), nil
}
