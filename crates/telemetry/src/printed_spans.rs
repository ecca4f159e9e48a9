//! Keeps the log layer from formatting spans nobody will read.
//!
//! Every INFO span is enabled whatever `RUST_LOG` says, because the
//! OpenTelemetry layer needs it to carry the trace context. The `fmt` layer
//! would then render every field of every such span into a string as the span
//! is created, even when `RUST_LOG` hides it: one `send` and one `process`
//! span per message, each with ten attributes. Profiling the produce and
//! consume paths showed that rendering as the largest single cost of the
//! runtime. [`PrintedSpansOnly`] hands the log layer only the spans
//! `RUST_LOG` lets through and gives the others an empty field set, so log
//! lines inside them still name the span.

use std::marker::PhantomData;

use tracing::{
    Event, Metadata, Subscriber,
    span::{Attributes, Id, Record},
    subscriber::Interest,
};
use tracing_subscriber::{
    filter::Targets,
    fmt::FormattedFields,
    layer::{Context, Layer},
    registry::LookupSpan,
};

/// Wraps a `fmt` layer whose field formatter is `N`, so that it formats only
/// the spans `targets` would print.
pub(crate) struct PrintedSpansOnly<L, N> {
    inner: L,
    targets: Targets,
    /// What `N` renders for a span without fields: the JSON formatter parses
    /// the stored text back and needs an object, the text formatter nothing.
    no_fields: &'static str,
    _fields: PhantomData<fn() -> N>,
}

impl<L, N> PrintedSpansOnly<L, N> {
    pub(crate) fn new(inner: L, targets: Targets, no_fields: &'static str) -> Self {
        PrintedSpansOnly {
            inner,
            targets,
            no_fields,
            _fields: PhantomData,
        }
    }

    fn printed(&self, metadata: &Metadata<'_>) -> bool {
        self.targets
            .would_enable(metadata.target(), metadata.level())
    }
}

impl<S, L, N> Layer<S> for PrintedSpansOnly<L, N>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    L: Layer<S>,
    N: 'static,
{
    fn on_register_dispatch(&self, subscriber: &tracing::Dispatch) {
        self.inner.on_register_dispatch(subscriber);
    }

    fn on_layer(&mut self, subscriber: &mut S) {
        self.inner.on_layer(subscriber);
    }

    fn register_callsite(&self, metadata: &'static Metadata<'static>) -> Interest {
        self.inner.register_callsite(metadata)
    }

    fn enabled(&self, metadata: &Metadata<'_>, ctx: Context<'_, S>) -> bool {
        self.inner.enabled(metadata, ctx)
    }

    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        if self.printed(attrs.metadata()) {
            self.inner.on_new_span(attrs, id, ctx);
        } else if let Some(span) = ctx.span(id) {
            span.extensions_mut()
                .insert(FormattedFields::<N>::new(self.no_fields.to_owned()));
        }
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        let printed = ctx
            .span(id)
            .is_some_and(|span| self.printed(span.metadata()));
        if printed {
            self.inner.on_record(id, values, ctx);
        }
    }

    fn on_follows_from(&self, span: &Id, follows: &Id, ctx: Context<'_, S>) {
        self.inner.on_follows_from(span, follows, ctx);
    }

    fn event_enabled(&self, event: &Event<'_>, ctx: Context<'_, S>) -> bool {
        self.inner.event_enabled(event, ctx)
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        self.inner.on_event(event, ctx);
    }

    fn on_enter(&self, id: &Id, ctx: Context<'_, S>) {
        self.inner.on_enter(id, ctx);
    }

    fn on_exit(&self, id: &Id, ctx: Context<'_, S>) {
        self.inner.on_exit(id, ctx);
    }

    fn on_close(&self, id: Id, ctx: Context<'_, S>) {
        self.inner.on_close(id, ctx);
    }

    fn on_id_change(&self, old: &Id, new: &Id, ctx: Context<'_, S>) {
        self.inner.on_id_change(old, new, ctx);
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use tracing_subscriber::{fmt::MakeWriter, layer::SubscriberExt as _};

    use super::*;

    /// Collects everything the log layer writes.
    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl Captured {
        fn text(&self) -> String {
            String::from_utf8_lossy(&self.0.lock().expect("not poisoned")).into_owned()
        }
    }

    impl std::io::Write for Captured {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().expect("not poisoned").extend_from_slice(buf);
            Ok(buf.len())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl<'a> MakeWriter<'a> for Captured {
        type Writer = Captured;

        fn make_writer(&'a self) -> Self::Writer {
            self.clone()
        }
    }

    /// Logs one event inside a hidden INFO span nested in a printed WARN
    /// span, the way a message handler logs inside `process`.
    fn log_inside_spans() {
        let printed = tracing::warn_span!("printed", visible = "kept");
        let _printed = printed.enter();
        let hidden = tracing::info_span!("hidden", secret = "rendered");
        let _hidden = hidden.enter();
        hidden.record("secret", "recorded");
        tracing::warn!("inside");
    }

    fn targets() -> Targets {
        "warn".parse().expect("valid directives")
    }

    #[test]
    fn text_lines_name_hidden_spans_without_formatting_their_fields() {
        let out = Captured::default();
        let layer = tracing_subscriber::fmt::layer()
            .with_ansi(false)
            .with_writer(out.clone());
        let subscriber = tracing_subscriber::registry().with(PrintedSpansOnly::<
            _,
            tracing_subscriber::fmt::format::DefaultFields,
        >::new(layer, targets(), ""));
        tracing::subscriber::with_default(subscriber, log_inside_spans);
        let text = out.text();
        assert!(text.contains("printed{visible=\"kept\"}"), "{text}");
        assert!(text.contains(":hidden: "), "{text}");
        assert!(text.contains("inside"), "{text}");
        assert!(!text.contains("rendered"), "{text}");
        assert!(!text.contains("recorded"), "{text}");
    }

    #[test]
    fn json_lines_stay_valid_inside_hidden_spans() {
        let out = Captured::default();
        let layer = tracing_subscriber::fmt::layer()
            .json()
            .with_current_span(true)
            .with_span_list(true)
            .with_writer(out.clone());
        let subscriber = tracing_subscriber::registry().with(PrintedSpansOnly::<
            _,
            tracing_subscriber::fmt::format::JsonFields,
        >::new(layer, targets(), "{}"));
        tracing::subscriber::with_default(subscriber, log_inside_spans);
        let text = out.text();
        let line: serde_json::Value =
            serde_json::from_str(text.trim()).expect("one JSON object per line");
        assert_eq!(
            line["span"],
            serde_json::json!({"name": "hidden"}),
            "{text}"
        );
        assert_eq!(
            line["spans"][0],
            serde_json::json!({"name": "printed", "visible": "kept"}),
            "{text}"
        );
    }
}
