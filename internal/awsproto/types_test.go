package awsproto

// Request shapes used by the tests, declared as internal/kinesis declares
// them: PascalCase json tags with omitempty, pointers for optional scalars,
// []byte for blobs, Timestamp for timestamps.

type putRecordsEntry struct {
	Data            []byte  `json:"Data,omitempty"`
	ExplicitHashKey *string `json:"ExplicitHashKey,omitempty"`
	PartitionKey    string  `json:"PartitionKey,omitempty"`
}

type putRecordsRequest struct {
	Records    []putRecordsEntry `json:"Records,omitempty"`
	StreamName *string           `json:"StreamName,omitempty"`
	StreamARN  *string           `json:"StreamARN,omitempty"`
	Timestamp  *Timestamp        `json:"Timestamp,omitempty"`
	Limit      *int32            `json:"Limit,omitempty"`
}

type inner struct {
	Name  *string `json:"Name,omitempty"`
	Count *int32  `json:"Count,omitempty"`
}

// allTypes has one member of every kind the decoders know.
type allTypes struct {
	Bool   *bool             `json:"Bool,omitempty"`
	Int    *int32            `json:"Int,omitempty"`
	Long   *int64            `json:"Long,omitempty"`
	Short  *int16            `json:"Short,omitempty"`
	Uint   *uint32           `json:"Uint,omitempty"`
	Double *float64          `json:"Double,omitempty"`
	Float  *float32          `json:"Float,omitempty"`
	Str    *string           `json:"Str,omitempty"`
	Blob   []byte            `json:"Blob,omitempty"`
	Ts     *Timestamp        `json:"Ts,omitempty"`
	List   []string          `json:"List,omitempty"`
	Map    map[string]string `json:"Map,omitempty"`
	Struct *inner            `json:"Struct,omitempty"`
	Any    any               `json:"Any,omitempty"`
	Nested []inner           `json:"Nested,omitempty"`
	Plain  int64             // no tag: named Plain
	Hidden string            `json:"-"`
	Embedded
}

// Embedded members are flattened, as encoding/json does.
type Embedded struct {
	Extra *string `json:"Extra,omitempty"`
}
