//! Label sets, one struct per shape. Every value is bounded: topics, groups
//! and routes come from configuration, reasons are short stable codes,
//! partitions are bounded by the topic's partition count.

use prometheus_client::encoding::EncodeLabelSet;

/// `{topic}`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct TopicLabels {
    pub topic: String,
}

/// `{topic,group}`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct TopicGroupLabels {
    pub topic: String,
    pub group: String,
}

/// `{topic,group,reason}`; `reason` is a stable short code.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct FailureLabels {
    pub topic: String,
    pub group: String,
    pub reason: String,
}

/// `{topic,reason}` for producer-side failures.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ProduceFailureLabels {
    pub topic: String,
    pub reason: String,
}

/// `{topic,partition,group}`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct PartitionLabels {
    pub topic: String,
    pub partition: i32,
    pub group: String,
}

/// `{group}`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct GroupLabels {
    pub group: String,
}

/// `{group,kind}`; `kind` is `assign`, `revoke` or `error`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RebalanceLabels {
    pub group: String,
    pub kind: String,
}

/// `{outcome}`: `confirmed`, `cancelled`, `timed_out`, ...
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct SagaLabels {
    pub outcome: String,
}

/// `{method,route,status}`; `route` is the matched route template, never the raw path.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct HttpLabels {
    pub method: String,
    pub route: String,
    pub status: u16,
}

/// `{method,route}`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct HttpRouteLabels {
    pub method: String,
    pub route: String,
}

/// `{service}`: one of the fixed service names.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ServiceLabels {
    pub service: String,
}

/// `{service,status}`; `status` is `placed`, `confirmed` or `cancelled`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OrderStatusLabels {
    pub service: String,
    pub status: String,
}
