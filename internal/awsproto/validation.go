package awsproto

import (
	"fmt"
	"math"
	"reflect"
	"sort"
	"strconv"
	"strings"
)

// Coral's validation messages, as AWS sends them in ValidationException
// (kinesalite validations/index.js, whose tests run against AWS; the blob
// rendering is also seen in real AWS errors: "Value
// 'java.nio.HeapByteBuffer[pos=0 lim=1054425 cap=1054425]' at
// 'records.1.member.data' failed to satisfy constraint: Member must have
// length less than or equal to 1048576").
//
// A problem reads
//
//	Value 'x' at 'streamName' failed to satisfy constraint: Member must ...
//
// with the value quoted, or unquoted null when absent. The path is the
// member's name with its first letter lowered; list members are
// "records.1.member.data" (1-based), map values "tags.<key>.member".

// MaxValidationProblems is how many problems AWS reports at most: it stops
// collecting at ten and then says "10 validation errors detected".
const MaxValidationProblems = 10

// ValidationMessage joins problems in AWS's form: "1 validation error
// detected: A" or "2 validation errors detected: A; B". Only the first
// MaxValidationProblems are kept. No problems give "".
func ValidationMessage(problems []string) string {
	n := len(problems)
	if n == 0 {
		return ""
	}
	if n > MaxValidationProblems {
		problems, n = problems[:MaxValidationProblems], MaxValidationProblems
	}
	noun := "errors"
	if n == 1 {
		noun = "error"
	}
	return strconv.Itoa(n) + " validation " + noun + " detected: " + strings.Join(problems, "; ")
}

// ValidationError is the ValidationException for problems, or nil when
// there are none.
func ValidationError(problems []string) *Error {
	if len(problems) == 0 {
		return nil
	}
	return newError("ValidationException", ValidationMessage(problems))
}

// Problem builds one problem: value (rendered by FormatValue) at path
// failed constraint.
func Problem(value any, path, constraint string) string {
	s, ok := FormatValue(value)
	if ok {
		s = "'" + s + "'"
	}
	return "Value " + s + " at '" + path + "' failed to satisfy constraint: " + constraint
}

// Constraint texts.
const ConstraintNotNull = "Member must not be null"

// ConstraintPattern is "Member must satisfy regular expression pattern: p".
func ConstraintPattern(pattern string) string {
	return "Member must satisfy regular expression pattern: " + pattern
}

// ConstraintMinLen is "Member must have length greater than or equal to n".
func ConstraintMinLen(n int) string {
	return "Member must have length greater than or equal to " + strconv.Itoa(n)
}

// ConstraintMaxLen is "Member must have length less than or equal to n".
func ConstraintMaxLen(n int) string {
	return "Member must have length less than or equal to " + strconv.Itoa(n)
}

// ConstraintMinValue is "Member must have value greater than or equal to n".
func ConstraintMinValue(n int64) string {
	return "Member must have value greater than or equal to " + strconv.FormatInt(n, 10)
}

// ConstraintMaxValue is "Member must have value less than or equal to n".
func ConstraintMaxValue(n int64) string {
	return "Member must have value less than or equal to " + strconv.FormatInt(n, 10)
}

// ConstraintEnum is "Member must satisfy enum value set: [A, B]", values
// in model order.
func ConstraintEnum(values []string) string {
	return "Member must satisfy enum value set: [" + strings.Join(values, ", ") + "]"
}

// ConstraintEachLen is the constraint of a list whose string members are
// out of [min, max] (note AWS names the maximum first).
func ConstraintEachLen(min, max int) string {
	return "Member must satisfy constraint: [" + ConstraintMaxLen(max) + ", " + ConstraintMinLen(min) + "]"
}

// ConstraintMapKeysLen is the constraint of a map whose keys are out of
// [min, max].
func ConstraintMapKeysLen(min, max int) string {
	return "Map keys must satisfy constraint: [" + ConstraintMaxLen(max) + ", " + ConstraintMinLen(min) + "]"
}

// ConstraintMapValuesLen is the constraint of a map whose values are out
// of [min, max].
func ConstraintMapValuesLen(min, max int) string {
	return "Map value must satisfy constraint: [" + ConstraintMaxLen(max) + ", " + ConstraintMinLen(min) + "]"
}

// ProblemRequired: "Value null at 'path' failed to satisfy constraint:
// Member must not be null".
func ProblemRequired(path string) string { return Problem(nil, path, ConstraintNotNull) }

// ProblemPattern: value does not match the model's pattern.
func ProblemPattern(value any, path, pattern string) string {
	return Problem(value, path, ConstraintPattern(pattern))
}

// ProblemMinLen: value (string, blob, list or map) is shorter than min.
func ProblemMinLen(value any, path string, min int) string {
	return Problem(value, path, ConstraintMinLen(min))
}

// ProblemMaxLen: value is longer than max.
func ProblemMaxLen(value any, path string, max int) string {
	return Problem(value, path, ConstraintMaxLen(max))
}

// ProblemMinValue: a number below min.
func ProblemMinValue(value any, path string, min int64) string {
	return Problem(value, path, ConstraintMinValue(min))
}

// ProblemMaxValue: a number above max.
func ProblemMaxValue(value any, path string, max int64) string {
	return Problem(value, path, ConstraintMaxValue(max))
}

// ProblemRange checks n against [min, max] and returns the problem for the
// bound it breaks, or "" when it is in range.
func ProblemRange(n int64, path string, min, max int64) string {
	switch {
	case n < min:
		return ProblemMinValue(n, path, min)
	case n > max:
		return ProblemMaxValue(n, path, max)
	}
	return ""
}

// ProblemEnum: value is not one of values.
func ProblemEnum(value any, path string, values []string) string {
	return Problem(value, path, ConstraintEnum(values))
}

// LowerFirst lowers the first letter of a member name, giving its path:
// StreamName -> streamName, StreamARN -> streamARN.
func LowerFirst(name string) string {
	if name == "" || name[0] < 'A' || name[0] > 'Z' {
		return name
	}
	return string(name[0]+('a'-'A')) + name[1:]
}

// ListMemberPath is the path of member of element i (0-based) of the list
// at listPath: ListMemberPath("records", 0, "data") = "records.1.member.data".
// An empty member names the element itself: "tagKeys.1.member".
func ListMemberPath(listPath string, i int, member string) string {
	p := listPath + "." + strconv.Itoa(i+1) + ".member"
	if member != "" {
		p += "." + member
	}
	return p
}

// MapMemberPath is the path of the value under key in the map at mapPath:
// "tags.<key>.member".
func MapMemberPath(mapPath, key string) string { return mapPath + "." + key + ".member" }

// RawValue is rendered as is by FormatValue: for values AWS prints in a way
// only the caller knows, such as a Java object's
// "com.amazonaws.kinesis.v20131202.PutRecordsRequestEntry@c965e310".
type RawValue string

// FormatValue renders a member value as Coral prints it in validation
// messages, and reports false for an absent value (nil, or a nil pointer,
// slice or map), which prints as an unquoted null. Strings print as is;
// blobs as java.nio.HeapByteBuffer[pos=0 lim=N cap=N]; numbers and booleans
// as Java prints them; lists as [a, b]; maps as {k=v, ...} in key order;
// timestamps as java.util.Date does, in UTC.
func FormatValue(value any) (string, bool) {
	if value == nil {
		return "null", false
	}
	switch v := value.(type) {
	case RawValue:
		return string(v), true
	case string:
		return v, true
	case []byte:
		if v == nil {
			return "null", false
		}
		n := strconv.Itoa(len(v))
		return "java.nio.HeapByteBuffer[pos=0 lim=" + n + " cap=" + n + "]", true
	case Timestamp:
		return v.Time().Format("Mon Jan 02 15:04:05 MST 2006"), true
	case *Timestamp:
		if v == nil {
			return "null", false
		}
		return FormatValue(*v)
	case fmt.Stringer:
		if rv := reflect.ValueOf(v); rv.Kind() == reflect.Pointer && rv.IsNil() {
			return "null", false
		}
		return v.String(), true
	}
	rv := reflect.ValueOf(value)
	switch rv.Kind() {
	case reflect.Pointer, reflect.Interface:
		if rv.IsNil() {
			return "null", false
		}
		return FormatValue(rv.Elem().Interface())
	case reflect.String:
		return rv.String(), true
	case reflect.Bool:
		return strconv.FormatBool(rv.Bool()), true
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return strconv.FormatInt(rv.Int(), 10), true
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return strconv.FormatUint(rv.Uint(), 10), true
	case reflect.Float32, reflect.Float64:
		return javaDouble(rv.Float()), true
	case reflect.Slice, reflect.Array:
		if rv.Kind() == reflect.Slice && rv.IsNil() {
			return "null", false
		}
		if rv.Type().Elem().Kind() == reflect.Uint8 {
			return FormatValue(rv.Bytes())
		}
		parts := make([]string, rv.Len())
		for i := range parts {
			parts[i], _ = FormatValue(rv.Index(i).Interface())
		}
		return "[" + strings.Join(parts, ", ") + "]", true
	case reflect.Map:
		if rv.IsNil() {
			return "null", false
		}
		parts := make([]string, 0, rv.Len())
		iter := rv.MapRange()
		for iter.Next() {
			k, _ := FormatValue(iter.Key().Interface())
			e, _ := FormatValue(iter.Value().Interface())
			parts = append(parts, k+"="+e)
		}
		sort.Strings(parts)
		return "{" + strings.Join(parts, ", ") + "}", true
	}
	return fmt.Sprint(value), true
}

// javaDouble formats f as Java's Double.toString: 1.0, 0.5, 1.0E7, 1.5E-4.
func javaDouble(f float64) string {
	switch {
	case math.IsNaN(f):
		return "NaN"
	case math.IsInf(f, 1):
		return "Infinity"
	case math.IsInf(f, -1):
		return "-Infinity"
	}
	abs := math.Abs(f)
	if abs == 0 || (abs >= 1e-3 && abs < 1e7) {
		s := strconv.FormatFloat(f, 'f', -1, 64)
		if !strings.Contains(s, ".") {
			s += ".0"
		}
		return s
	}
	s := strconv.FormatFloat(f, 'E', -1, 64) // 1.5E-04
	mant, exp, _ := strings.Cut(s, "E")
	if !strings.Contains(mant, ".") {
		mant += ".0"
	}
	e, _ := strconv.Atoi(exp)
	return mant + "E" + strconv.Itoa(e)
}
