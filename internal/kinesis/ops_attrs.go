package kinesis

import (
	"regexp"
	"strings"
	"unicode/utf8"

	"github.com/sluicedata/sluice/internal/awsproto"
	"github.com/sluicedata/sluice/internal/engine"
)

// Stream attributes and account-level operations: tags (by stream and by
// ARN), resource policies, enhanced monitoring, server-side encryption,
// DescribeLimits, account settings, record size, warm throughput and the
// record distribution strategy.

func init() {
	register(map[string]handler{
		"AddTagsToStream":                        (*Service).addTagsToStream,
		"RemoveTagsFromStream":                   (*Service).removeTagsFromStream,
		"ListTagsForStream":                      (*Service).listTagsForStream,
		"TagResource":                            (*Service).tagResource,
		"UntagResource":                          (*Service).untagResource,
		"ListTagsForResource":                    (*Service).listTagsForResource,
		"PutResourcePolicy":                      (*Service).putResourcePolicy,
		"GetResourcePolicy":                      (*Service).getResourcePolicy,
		"DeleteResourcePolicy":                   (*Service).deleteResourcePolicy,
		"EnableEnhancedMonitoring":               (*Service).enableEnhancedMonitoring,
		"DisableEnhancedMonitoring":              (*Service).disableEnhancedMonitoring,
		"StartStreamEncryption":                  (*Service).startStreamEncryption,
		"StopStreamEncryption":                   (*Service).stopStreamEncryption,
		"DescribeLimits":                         (*Service).describeLimits,
		"DescribeAccountSettings":                (*Service).describeAccountSettings,
		"UpdateAccountSettings":                  (*Service).updateAccountSettings,
		"UpdateMaxRecordSize":                    (*Service).updateMaxRecordSize,
		"UpdateStreamWarmThroughput":             (*Service).updateStreamWarmThroughput,
		"UpdateStreamRecordDistributionStrategy": (*Service).updateStreamRecordDistributionStrategy,
	})
}

// Request and response shapes, member for member as in the model.

type addTagsToStreamInput struct {
	streamRef
	Tags map[string]string `json:"Tags,omitempty"`
}

type removeTagsFromStreamInput struct {
	streamRef
	TagKeys []string `json:"TagKeys,omitempty"`
}

type listTagsForStreamInput struct {
	streamRef
	ExclusiveStartTagKey *string `json:"ExclusiveStartTagKey,omitempty"`
	Limit                *int32  `json:"Limit,omitempty"`
}

type tagOut struct {
	Key   string `json:"Key"`
	Value string `json:"Value"`
}

type listTagsForStreamOutput struct {
	Tags        []tagOut `json:"Tags"`
	HasMoreTags bool     `json:"HasMoreTags"`
}

type resourceRef struct {
	ResourceARN *string `json:"ResourceARN,omitempty"`
	StreamId    *string `json:"StreamId,omitempty"`
}

type tagResourceInput struct {
	resourceRef
	Tags map[string]string `json:"Tags,omitempty"`
}

type untagResourceInput struct {
	resourceRef
	TagKeys []string `json:"TagKeys,omitempty"`
}

type listTagsForResourceOutput struct {
	Tags []tagOut `json:"Tags"`
}

type putResourcePolicyInput struct {
	resourceRef
	Policy *string `json:"Policy,omitempty"`
}

type getResourcePolicyOutput struct {
	Policy string `json:"Policy"`
}

type enhancedMonitoringInput struct {
	streamRef
	ShardLevelMetrics []string `json:"ShardLevelMetrics,omitempty"`
}

type enhancedMonitoringOutput struct {
	StreamName               string   `json:"StreamName"`
	CurrentShardLevelMetrics []string `json:"CurrentShardLevelMetrics"`
	DesiredShardLevelMetrics []string `json:"DesiredShardLevelMetrics"`
	StreamARN                string   `json:"StreamARN"`
}

type streamEncryptionInput struct {
	streamRef
	EncryptionType *string `json:"EncryptionType,omitempty"`
	KeyId          *string `json:"KeyId,omitempty"`
}

type describeLimitsOutput struct {
	ShardLimit               int `json:"ShardLimit"`
	OpenShardCount           int `json:"OpenShardCount"`
	OnDemandStreamCount      int `json:"OnDemandStreamCount"`
	OnDemandStreamCountLimit int `json:"OnDemandStreamCountLimit"`
}

type commitmentInput struct {
	Status *string `json:"Status,omitempty"`
}

type updateAccountSettingsInput struct {
	MinimumThroughputBillingCommitment *commitmentInput `json:"MinimumThroughputBillingCommitment,omitempty"`
}

type commitmentOutput struct {
	Status               string              `json:"Status"`
	StartedAt            *awsproto.Timestamp `json:"StartedAt,omitempty"`
	EndedAt              *awsproto.Timestamp `json:"EndedAt,omitempty"`
	EarliestAllowedEndAt *awsproto.Timestamp `json:"EarliestAllowedEndAt,omitempty"`
}

type accountSettingsOutput struct {
	MinimumThroughputBillingCommitment commitmentOutput `json:"MinimumThroughputBillingCommitment"`
}

type updateMaxRecordSizeInput struct {
	StreamARN          *string `json:"StreamARN,omitempty"`
	MaxRecordSizeInKiB *int32  `json:"MaxRecordSizeInKiB,omitempty"`
	StreamId           *string `json:"StreamId,omitempty"`
}

type updateStreamWarmThroughputInput struct {
	streamRef
	WarmThroughputMiBps *int32 `json:"WarmThroughputMiBps,omitempty"`
}

type updateStreamWarmThroughputOutput struct {
	StreamARN      string         `json:"StreamARN"`
	StreamName     string         `json:"StreamName"`
	WarmThroughput warmThroughput `json:"WarmThroughput"`
}

type updateRecordDistributionInput struct {
	RecordDistributionStrategy *string `json:"RecordDistributionStrategy,omitempty"`
	StreamARN                  *string `json:"StreamARN,omitempty"`
	StreamId                   *string `json:"StreamId,omitempty"`
}

// Model constraints of these operations.
var (
	resourceARNPattern   = regexp.MustCompile(`^arn:aws.*:kinesis:.*:\d{12}:.*stream/\S+$`)
	ruleResourceARN      = strRule{required: true, min: 1, max: 2048, pattern: resourceARNPattern, patText: `arn:aws.*:kinesis:.*:\d{12}:.*stream/\S+`}
	ruleTagKey           = strRule{min: 1, max: 128}
	ruleKeyID            = strRule{required: true, min: 1, max: 2048}
	enumEncryptionType   = []string{"NONE", "KMS"}
	enumMetricsName      = append(append([]string(nil), engine.ShardLevelMetrics...), engine.MetricAll)
	enumCommitmentStatus = []string{engine.CommitmentEnabled, engine.CommitmentDisabled}
)

// requiredTagMap checks a required TagMap member.
func (v *validator) requiredTagMap(path string, tags map[string]string) {
	if tags == nil {
		v.add(awsproto.ProblemRequired(path))
		return
	}
	v.tagMap(path, tags)
}

// tagKeyList checks a required TagKeyList member: 1..50 keys of 1..128
// characters each.
func (v *validator) tagKeyList(path string, keys []string) {
	if keys == nil {
		v.add(awsproto.ProblemRequired(path))
		return
	}
	if len(keys) < 1 {
		v.add(awsproto.ProblemMinLen(keys, path, 1))
	} else if len(keys) > 50 {
		v.add(awsproto.ProblemMaxLen(keys, path, 50))
	}
	for _, k := range keys {
		if n := utf8.RuneCountInString(k); n < 1 || n > 128 {
			v.add(awsproto.Problem(keys, path, awsproto.ConstraintEachLen(1, 128)))
			break
		}
	}
}

// metricsList checks a required MetricsNameList member: 1..7 names from
// the MetricsName enum.
func (v *validator) metricsList(path string, metrics []string) {
	if metrics == nil {
		v.add(awsproto.ProblemRequired(path))
		return
	}
	if len(metrics) < 1 {
		v.add(awsproto.ProblemMinLen(metrics, path, 1))
	} else if len(metrics) > 7 {
		v.add(awsproto.ProblemMaxLen(metrics, path, 7))
	}
	for _, m := range metrics {
		if !contains(enumMetricsName, m) {
			v.add(awsproto.Problem(metrics, path, "Member must satisfy constraint: ["+awsproto.ConstraintEnum(enumMetricsName)+"]"))
			break
		}
	}
}

// resourceRef validates ResourceARN and StreamId.
func (v *validator) resourceRef(r *resourceRef) {
	v.str("resourceARN", r.ResourceARN, ruleResourceARN)
}

// resolveResource returns the stream, or stream and consumer, that a
// ResourceARN (which has passed the model pattern) names.
func (s *Service) resolveResource(r *Request, arn string) (engine.Resource, error) {
	parts := strings.SplitN(arn, ":", 6)
	if len(parts) != 6 || !strings.HasPrefix(parts[5], "stream/") {
		return engine.Resource{}, awsproto.Errorf("InvalidArgumentException", "Invalid ResourceARN %s.", arn)
	}
	resource := strings.TrimPrefix(parts[5], "stream/")
	if strings.Contains(resource, "/consumer/") {
		region, account, stream, consumer, sec, ok := engine.ParseConsumerARN(arn)
		if !ok {
			return engine.Resource{}, awsproto.Errorf("InvalidArgumentException", "Invalid ResourceARN %s.", arn)
		}
		c, err := s.eng.DescribeStreamConsumer(engine.ConsumerRef{Stream: stream, Name: consumer})
		if err != nil || (region != s.eng.Region() && region != r.Region) || account != s.eng.AccountID() || c.CreatedMillis/1000 != sec {
			return engine.Resource{}, awsproto.Errorf("ResourceNotFoundException", "Consumer %s under account %s not found.", arn, account)
		}
		return engine.Resource{Stream: stream, Consumer: consumer}, nil
	}
	if !streamNamePattern.MatchString(resource) || len(resource) > 128 {
		return engine.Resource{}, awsproto.Errorf("InvalidArgumentException", "Invalid ResourceARN %s.", arn)
	}
	if (parts[3] != s.eng.Region() && parts[3] != r.Region) || parts[4] != s.eng.AccountID() {
		return engine.Resource{}, awsproto.Errorf("ResourceNotFoundException", "Stream %s under account %s not found.", resource, parts[4])
	}
	return engine.Resource{Stream: resource}, nil
}

// decodeResource is decodeStream for operations addressed by ResourceARN.
func (s *Service) decodeResource(r *Request, in any, ref *resourceRef, check func(v *validator)) (engine.Resource, error) {
	if err := decode(r, in); err != nil {
		return engine.Resource{}, err
	}
	var v validator
	check(&v)
	v.str("streamId", ref.StreamId, ruleStreamID)
	if err := v.err(); err != nil {
		return engine.Resource{}, err
	}
	return s.resolveResource(r, *ref.ResourceARN)
}

func tagsOut(tags []engine.Tag) []tagOut {
	out := make([]tagOut, 0, len(tags))
	for _, t := range tags {
		out = append(out, tagOut{Key: t.Key, Value: t.Value})
	}
	return out
}

// --- Tags ---

func (s *Service) addTagsToStream(r *Request) (any, error) {
	var in addTagsToStreamInput
	name, err := s.decodeStream(r, &in, &in.streamRef, func(v *validator) {
		v.str("streamName", in.StreamName, ruleStreamName)
		v.requiredTagMap("tags", in.Tags)
		v.str("streamARN", in.StreamARN, ruleStreamARN)
		v.str("streamId", in.StreamId, ruleStreamID)
	})
	if err != nil {
		return nil, err
	}
	return nil, s.eng.AddTags(name, in.Tags)
}

func (s *Service) removeTagsFromStream(r *Request) (any, error) {
	var in removeTagsFromStreamInput
	name, err := s.decodeStream(r, &in, &in.streamRef, func(v *validator) {
		v.str("streamName", in.StreamName, ruleStreamName)
		v.tagKeyList("tagKeys", in.TagKeys)
		v.str("streamARN", in.StreamARN, ruleStreamARN)
		v.str("streamId", in.StreamId, ruleStreamID)
	})
	if err != nil {
		return nil, err
	}
	return nil, s.eng.RemoveTags(name, in.TagKeys)
}

func (s *Service) listTagsForStream(r *Request) (any, error) {
	var in listTagsForStreamInput
	name, err := s.decodeStream(r, &in, &in.streamRef, func(v *validator) {
		v.str("streamName", in.StreamName, ruleStreamName)
		v.str("exclusiveStartTagKey", in.ExclusiveStartTagKey, ruleTagKey)
		v.int("limit", in.Limit, intRule{min: 1, max: 50})
		v.str("streamARN", in.StreamARN, ruleStreamARN)
		v.str("streamId", in.StreamId, ruleStreamID)
	})
	if err != nil {
		return nil, err
	}
	limit := 0 // every tag: a stream has at most 50, the model's maximum Limit
	if in.Limit != nil {
		limit = int(*in.Limit)
	}
	tags, more, err := s.eng.ListTags(name, deref(in.ExclusiveStartTagKey), limit)
	if err != nil {
		return nil, err
	}
	return listTagsForStreamOutput{Tags: tagsOut(tags), HasMoreTags: more}, nil
}

func (s *Service) tagResource(r *Request) (any, error) {
	var in tagResourceInput
	name, err := s.decodeResource(r, &in, &in.resourceRef, func(v *validator) {
		v.requiredTagMap("tags", in.Tags)
		v.resourceRef(&in.resourceRef)
	})
	if err != nil {
		return nil, err
	}
	return nil, s.eng.AddResourceTags(name, in.Tags)
}

func (s *Service) untagResource(r *Request) (any, error) {
	var in untagResourceInput
	name, err := s.decodeResource(r, &in, &in.resourceRef, func(v *validator) {
		v.tagKeyList("tagKeys", in.TagKeys)
		v.resourceRef(&in.resourceRef)
	})
	if err != nil {
		return nil, err
	}
	return nil, s.eng.RemoveResourceTags(name, in.TagKeys)
}

func (s *Service) listTagsForResource(r *Request) (any, error) {
	var in resourceRef
	name, err := s.decodeResource(r, &in, &in, func(v *validator) { v.resourceRef(&in) })
	if err != nil {
		return nil, err
	}
	tags, _, err := s.eng.ListResourceTags(name, "", 0)
	if err != nil {
		return nil, err
	}
	return listTagsForResourceOutput{Tags: tagsOut(tags)}, nil
}

// --- Resource policies ---

func (s *Service) putResourcePolicy(r *Request) (any, error) {
	var in putResourcePolicyInput
	name, err := s.decodeResource(r, &in, &in.resourceRef, func(v *validator) {
		v.resourceRef(&in.resourceRef)
		v.str("policy", in.Policy, strRule{required: true})
	})
	if err != nil {
		return nil, err
	}
	return nil, s.eng.PutResourcePolicy(name, *in.Policy)
}

func (s *Service) getResourcePolicy(r *Request) (any, error) {
	var in resourceRef
	name, err := s.decodeResource(r, &in, &in, func(v *validator) { v.resourceRef(&in) })
	if err != nil {
		return nil, err
	}
	policy, err := s.eng.ResourcePolicy(name)
	if err != nil {
		return nil, err
	}
	return getResourcePolicyOutput{Policy: policy}, nil
}

func (s *Service) deleteResourcePolicy(r *Request) (any, error) {
	var in resourceRef
	name, err := s.decodeResource(r, &in, &in, func(v *validator) { v.resourceRef(&in) })
	if err != nil {
		return nil, err
	}
	return nil, s.eng.DeleteResourcePolicy(name, *in.ResourceARN)
}

// --- Enhanced monitoring ---

func (s *Service) enableEnhancedMonitoring(r *Request) (any, error) {
	return s.enhancedMonitoring(r, true)
}

func (s *Service) disableEnhancedMonitoring(r *Request) (any, error) {
	return s.enhancedMonitoring(r, false)
}

func (s *Service) enhancedMonitoring(r *Request, enable bool) (any, error) {
	var in enhancedMonitoringInput
	name, err := s.decodeStream(r, &in, &in.streamRef, func(v *validator) {
		v.str("streamName", in.StreamName, ruleStreamName)
		v.metricsList("shardLevelMetrics", in.ShardLevelMetrics)
		v.str("streamARN", in.StreamARN, ruleStreamARN)
		v.str("streamId", in.StreamId, ruleStreamID)
	})
	if err != nil {
		return nil, err
	}
	current, desired, err := s.eng.UpdateShardLevelMetrics(name, in.ShardLevelMetrics, enable)
	if err != nil {
		return nil, err
	}
	return enhancedMonitoringOutput{
		StreamName: name, CurrentShardLevelMetrics: current, DesiredShardLevelMetrics: desired, StreamARN: s.streamARN(r, name),
	}, nil
}

// --- Encryption ---

func (s *Service) startStreamEncryption(r *Request) (any, error) {
	return s.streamEncryption(r, true)
}

func (s *Service) stopStreamEncryption(r *Request) (any, error) {
	return s.streamEncryption(r, false)
}

func (s *Service) streamEncryption(r *Request, start bool) (any, error) {
	var in streamEncryptionInput
	name, err := s.decodeStream(r, &in, &in.streamRef, func(v *validator) {
		v.str("streamName", in.StreamName, ruleStreamName)
		v.str("encryptionType", in.EncryptionType, strRule{required: true, enum: enumEncryptionType})
		v.str("keyId", in.KeyId, ruleKeyID)
		v.str("streamARN", in.StreamARN, ruleStreamARN)
		v.str("streamId", in.StreamId, ruleStreamID)
	})
	if err != nil {
		return nil, err
	}
	if *in.EncryptionType != engine.EncryptionKMS {
		op := "StopStreamEncryption"
		if start {
			op = "StartStreamEncryption"
		}
		return nil, awsproto.Errorf("InvalidArgumentException",
			"EncryptionType %s is not supported by %s. The only supported EncryptionType is KMS.", *in.EncryptionType, op)
	}
	if start {
		return nil, s.eng.StartStreamEncryption(name, *in.KeyId)
	}
	return nil, s.eng.StopStreamEncryption(name, *in.KeyId)
}

// --- Account ---

// emptyInput is the input of operations without members; decoding it still
// rejects bodies that are not JSON objects.
type emptyInput struct{}

func (s *Service) describeLimits(r *Request) (any, error) {
	if err := decode(r, &emptyInput{}); err != nil {
		return nil, err
	}
	l := s.eng.DescribeLimits()
	return describeLimitsOutput{
		ShardLimit: l.ShardLimit, OpenShardCount: l.OpenShardCount,
		OnDemandStreamCount: l.OnDemandStreamCount, OnDemandStreamCountLimit: l.OnDemandStreamCountLimit,
	}, nil
}

func millisOrNil(ms int64) *awsproto.Timestamp {
	if ms == 0 {
		return nil
	}
	return &awsproto.Timestamp{Millis: ms}
}

func toAccountSettings(c engine.BillingCommitment) accountSettingsOutput {
	return accountSettingsOutput{MinimumThroughputBillingCommitment: commitmentOutput{
		Status: c.Status, StartedAt: millisOrNil(c.StartedMillis), EndedAt: millisOrNil(c.EndedMillis),
		EarliestAllowedEndAt: millisOrNil(c.EarliestAllowedEndMillis),
	}}
}

func (s *Service) describeAccountSettings(r *Request) (any, error) {
	if err := decode(r, &emptyInput{}); err != nil {
		return nil, err
	}
	c, err := s.eng.AccountSettings()
	if err != nil {
		return nil, err
	}
	return toAccountSettings(c), nil
}

func (s *Service) updateAccountSettings(r *Request) (any, error) {
	var in updateAccountSettingsInput
	if err := decode(r, &in); err != nil {
		return nil, err
	}
	var v validator
	if in.MinimumThroughputBillingCommitment == nil {
		v.add(awsproto.ProblemRequired("minimumThroughputBillingCommitment"))
	} else {
		v.str("minimumThroughputBillingCommitment.status", in.MinimumThroughputBillingCommitment.Status,
			strRule{required: true, enum: enumCommitmentStatus})
	}
	if err := v.err(); err != nil {
		return nil, err
	}
	c, err := s.eng.UpdateAccountSettings(*in.MinimumThroughputBillingCommitment.Status)
	if err != nil {
		return nil, err
	}
	return toAccountSettings(c), nil
}

// --- Record size, warm throughput, record distribution ---

// streamARNRequired is the answer to an operation addressed only by
// StreamARN when the request has none.
func streamARNRequired() error {
	return awsproto.Errorf("InvalidArgumentException", "StreamARN must be provided.")
}

func (s *Service) updateMaxRecordSize(r *Request) (any, error) {
	var in updateMaxRecordSizeInput
	if err := decode(r, &in); err != nil {
		return nil, err
	}
	var v validator
	v.str("streamARN", in.StreamARN, ruleStreamARN)
	v.int("maxRecordSizeInKiB", in.MaxRecordSizeInKiB,
		intRule{required: true, min: engine.MinMaxRecordSizeKiB, max: engine.MaxMaxRecordSizeKiB})
	v.str("streamId", in.StreamId, ruleStreamID)
	if err := v.err(); err != nil {
		return nil, err
	}
	if in.StreamARN == nil {
		return nil, streamARNRequired()
	}
	name, err := s.resolveStream(r, &streamRef{StreamARN: in.StreamARN})
	if err != nil {
		return nil, err
	}
	return nil, s.eng.UpdateMaxRecordSize(name, int(*in.MaxRecordSizeInKiB))
}

func (s *Service) updateStreamWarmThroughput(r *Request) (any, error) {
	var in updateStreamWarmThroughputInput
	name, err := s.decodeStream(r, &in, &in.streamRef, func(v *validator) {
		v.str("streamARN", in.StreamARN, ruleStreamARN)
		v.str("streamName", in.StreamName, ruleStreamName)
		v.int("warmThroughputMiBps", in.WarmThroughputMiBps, intRule{required: true, min: 0, max: noMax})
		v.str("streamId", in.StreamId, ruleStreamID)
	})
	if err != nil {
		return nil, err
	}
	wt, err := s.eng.UpdateWarmThroughput(name, int(*in.WarmThroughputMiBps))
	if err != nil {
		return nil, err
	}
	target, current := int64(wt.TargetMiBps), int64(wt.CurrentMiBps)
	return updateStreamWarmThroughputOutput{
		StreamARN: s.streamARN(r, name), StreamName: name,
		WarmThroughput: warmThroughput{TargetMiBps: &target, CurrentMiBps: &current},
	}, nil
}

func (s *Service) updateStreamRecordDistributionStrategy(r *Request) (any, error) {
	var in updateRecordDistributionInput
	if err := decode(r, &in); err != nil {
		return nil, err
	}
	var v validator
	v.str("recordDistributionStrategy", in.RecordDistributionStrategy, strRule{required: true, enum: enumDistribution})
	v.str("streamARN", in.StreamARN, strRule{required: true, min: 1, max: 2048, pattern: streamARNPattern, patText: ruleStreamARN.patText})
	v.str("streamId", in.StreamId, ruleStreamID)
	if err := v.err(); err != nil {
		return nil, err
	}
	name, err := s.resolveStream(r, &streamRef{StreamARN: in.StreamARN})
	if err != nil {
		return nil, err
	}
	return nil, s.eng.UpdateRecordDistribution(name, *in.RecordDistributionStrategy)
}
