package awsproto

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"time"

	"github.com/fxamacker/cbor/v2"
)

// kind is how a Go type is decoded: the AWS model type it stands for.
type kind uint8

const (
	kindString kind = iota + 1
	kindBool
	kindInt   // signed integers: Integer, Long, ...
	kindUint  // unsigned integers, clamped at 0
	kindFloat // Double, Float
	kindBlob  // []byte
	kindTimestamp
	kindStruct
	kindSlice // a List
	kindMap   // a Map with string keys
	kindPtr   // an optional member
	kindAny   // interface{}: generic values
)

// codec is the decoding plan of one Go type, built once and cached.
type codec struct {
	kind kind
	typ  reflect.Type
	// min and max bound integers; values outside are clamped.
	min, max int64
	// javaName names the type in Coral's messages ("Integer", "Long").
	javaName string
	// elem is the element of a slice or map, or the target of a pointer.
	elem *codec
	// fields and byName describe a struct's members by wire name.
	fields []field
	byName map[string]int
	// jsonU and cborU report that *T implements json.Unmarshaler or
	// cbor.Unmarshaler: the raw item is handed to it.
	jsonU, cborU bool
}

type field struct {
	name  string
	index []int
	c     *codec
}

var (
	timestampType  = reflect.TypeFor[Timestamp]()
	timeType       = reflect.TypeFor[time.Time]()
	jsonUnmarshalT = reflect.TypeFor[json.Unmarshaler]()
	cborUnmarshalT = reflect.TypeFor[cbor.Unmarshaler]()
)

// codecs caches plans by reflect.Type. Plans are immutable once published.
var codecs sync.Map

func codecFor(t reflect.Type) *codec {
	if c, ok := codecs.Load(t); ok {
		return c.(*codec)
	}
	b := codecBuilder{seen: make(map[reflect.Type]*codec)}
	c := b.build(t)
	for t, c := range b.seen {
		codecs.LoadOrStore(t, c)
	}
	if got, ok := codecs.Load(t); ok {
		return got.(*codec)
	}
	return c
}

type codecBuilder struct {
	seen map[reflect.Type]*codec
}

// build returns the plan for t. A type that cannot come from an AWS body
// (channels, funcs, maps without string keys, time.Time) is a programmer
// error and panics.
func (b *codecBuilder) build(t reflect.Type) *codec {
	if c, ok := b.seen[t]; ok {
		return c // recursive types share the plan being built
	}
	c := &codec{typ: t}
	b.seen[t] = c
	if t == timestampType {
		c.kind = kindTimestamp
		return c
	}
	if t == timeType {
		panic("awsproto: time.Time cannot be decoded from an AWS body; use awsproto.Timestamp")
	}
	if t.Kind() != reflect.Pointer && t.Kind() != reflect.Interface {
		pt := reflect.PointerTo(t)
		c.jsonU = pt.Implements(jsonUnmarshalT)
		c.cborU = pt.Implements(cborUnmarshalT)
	}
	switch t.Kind() {
	case reflect.String:
		c.kind = kindString
	case reflect.Bool:
		c.kind = kindBool
	case reflect.Int8:
		c.setInt(kindInt, "Byte", -1<<7, 1<<7-1)
	case reflect.Int16:
		c.setInt(kindInt, "Short", -1<<15, 1<<15-1)
	case reflect.Int32, reflect.Int:
		// int is treated as an AWS Integer: the models' int32.
		c.setInt(kindInt, "Integer", -1<<31, 1<<31-1)
	case reflect.Int64:
		c.setInt(kindInt, "Long", -1<<63, 1<<63-1)
	case reflect.Uint8:
		c.setInt(kindUint, "Byte", 0, 1<<8-1)
	case reflect.Uint16:
		c.setInt(kindUint, "Short", 0, 1<<16-1)
	case reflect.Uint32, reflect.Uint:
		c.setInt(kindUint, "Integer", 0, 1<<32-1)
	case reflect.Uint64, reflect.Uintptr:
		c.setInt(kindUint, "Long", 0, 1<<63-1)
	case reflect.Float32:
		c.kind, c.javaName = kindFloat, "Float"
	case reflect.Float64:
		c.kind, c.javaName = kindFloat, "Double"
	case reflect.Slice:
		if t.Elem().Kind() == reflect.Uint8 {
			c.kind = kindBlob
			break
		}
		c.kind = kindSlice
		c.elem = b.build(t.Elem())
	case reflect.Map:
		if t.Key().Kind() != reflect.String {
			panic(fmt.Sprintf("awsproto: %v: map keys must be strings", t))
		}
		c.kind = kindMap
		c.elem = b.build(t.Elem())
	case reflect.Pointer:
		c.kind = kindPtr
		c.elem = b.build(t.Elem())
	case reflect.Interface:
		if t.NumMethod() != 0 {
			panic(fmt.Sprintf("awsproto: %v: only empty interfaces can be decoded", t))
		}
		c.kind = kindAny
	case reflect.Struct:
		c.kind = kindStruct
		c.byName = make(map[string]int)
		b.addFields(c, t, nil)
	default:
		panic(fmt.Sprintf("awsproto: %v: a %v cannot be decoded from an AWS body", t, t.Kind()))
	}
	return c
}

func (c *codec) setInt(k kind, javaName string, min, max int64) {
	c.kind, c.javaName, c.min, c.max = k, javaName, min, max
}

// addFields adds t's exported fields to c under their json names. Embedded
// structs without a name tag are flattened, as encoding/json does; a name
// already taken by a shallower field wins.
func (b *codecBuilder) addFields(c *codec, t reflect.Type, index []int) {
	var embedded []reflect.StructField
	for i := 0; i < t.NumField(); i++ {
		sf := t.Field(i)
		tag := sf.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, _, _ := strings.Cut(tag, ",")
		if sf.Anonymous && name == "" && sf.Type.Kind() == reflect.Struct {
			embedded = append(embedded, sf)
			continue
		}
		if !sf.IsExported() {
			continue
		}
		if name == "" {
			name = sf.Name
		}
		if _, taken := c.byName[name]; taken {
			continue
		}
		idx := append(append([]int(nil), index...), i)
		c.byName[name] = len(c.fields)
		c.fields = append(c.fields, field{name: name, index: idx, c: b.build(sf.Type)})
	}
	for _, sf := range embedded {
		b.addFields(c, sf.Type, append(append([]int(nil), index...), sf.Index...))
	}
}

// fieldValue returns the settable value of f in struct v.
func fieldValue(v reflect.Value, f *field) reflect.Value {
	if len(f.index) == 1 {
		return v.Field(f.index[0])
	}
	return v.FieldByIndex(f.index)
}
