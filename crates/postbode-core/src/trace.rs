//! The trace an event belongs to: a W3C `traceparent` ([`TraceParent`]), taken from the
//! sender's request, kept with the event and, when a webhook asks for it, sent on its
//! calls; and how the spans about an event join that trace.
//!
//! Spans are `tracing` spans; when the binary exports traces (OpenTelemetry, off by
//! default) its layer turns them into OpenTelemetry spans, and the functions here give
//! them their parent, links and ids. Without that layer each is a check that finds no
//! layer and returns, so the hot path pays nothing for traces nobody collects.

use opentelemetry::trace::{SpanContext, SpanId, TraceContextExt, TraceFlags, TraceId, TraceState};
use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use tracing_opentelemetry::OpenTelemetrySpanExt;

/// A W3C trace context (`traceparent`): the trace, the span that is the parent of what
/// follows, and whether the trace is sampled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TraceParent {
    pub trace_id: [u8; 16],
    pub parent_id: [u8; 8],
    pub flags: u8,
}

impl TraceParent {
    /// Parses a `traceparent` header value (W3C Trace Context §3.2): version `00`, or a
    /// later version read as `00` (its first four fields). `None` for anything invalid,
    /// which a receiver of the header ignores.
    pub fn parse(value: &str) -> Option<Self> {
        let value = value.trim();
        let mut fields = value.split('-');
        let version = fields.next()?;
        let (trace, parent, flags) = (fields.next()?, fields.next()?, fields.next()?);
        let valid_version = version.len() == 2 && is_lower_hex(version) && version != "ff";
        // Version 00 has exactly four fields; a later one may add more.
        if !valid_version || (version == "00" && fields.next().is_some()) {
            return None;
        }
        let context = Self {
            trace_id: hex_array(trace)?,
            parent_id: hex_array(parent)?,
            flags: u8::from_str_radix(flags, 16)
                .ok()
                .filter(|_| flags.len() == 2 && is_lower_hex(flags))?,
        };
        let zero = context.trace_id == [0; 16] || context.parent_id == [0; 8];
        (!zero).then_some(context)
    }

    pub fn sampled(&self) -> bool {
        self.flags & 1 == 1
    }

    fn span_context(&self) -> SpanContext {
        SpanContext::new(
            TraceId::from_bytes(self.trace_id),
            SpanId::from_bytes(self.parent_id),
            TraceFlags::new(self.flags),
            true,
            TraceState::default(),
        )
    }
}

impl fmt::Display for TraceParent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("00-")?;
        for byte in self.trace_id {
            write!(f, "{byte:02x}")?;
        }
        f.write_str("-")?;
        for byte in self.parent_id {
            write!(f, "{byte:02x}")?;
        }
        write!(f, "-{:02x}", self.flags)
    }
}

fn is_lower_hex(text: &str) -> bool {
    text.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

fn hex_array<const N: usize>(text: &str) -> Option<[u8; N]> {
    if text.len() != N * 2 || !is_lower_hex(text) {
        return None;
    }
    let mut bytes = [0; N];
    for (byte, pair) in bytes.iter_mut().zip(text.as_bytes().chunks(2)) {
        *byte = u8::from_str_radix(std::str::from_utf8(pair).ok()?, 16).ok()?;
    }
    Some(bytes)
}

static EXPORTING: AtomicBool = AtomicBool::new(false);

/// Set once by the binary when it exports traces.
pub fn set_exporting(on: bool) {
    EXPORTING.store(on, Ordering::Relaxed);
}

/// Whether spans are exported: only then are fields that only traces need recorded.
pub fn exporting() -> bool {
    EXPORTING.load(Ordering::Relaxed)
}

/// Makes `span` a child of `parent` (a span of another process, or an event's). Call it
/// before the span is first entered.
pub fn set_parent(span: &tracing::Span, parent: &TraceParent) {
    let context = opentelemetry::Context::new().with_remote_span_context(parent.span_context());
    // Without the exporting layer there is nothing to set; that is not an error.
    let _ = span.set_parent(context);
}

/// Links `span` to the trace of an event it works for (a write group commits many).
pub fn link(span: &tracing::Span, to: &TraceParent) {
    span.add_link(to.span_context());
}

/// The span's own trace context, for what comes after it (an event, a call); `None`
/// when spans are not exported, or this one is not sampled into a trace.
pub fn context_of(span: &tracing::Span) -> Option<TraceParent> {
    if !exporting() || span.is_disabled() {
        return None;
    }
    let context = span.context();
    let own = context.span();
    let own = own.span_context();
    own.is_valid().then(|| TraceParent {
        trace_id: own.trace_id().to_bytes(),
        parent_id: own.span_id().to_bytes(),
        flags: own.trace_flags().to_u8(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_traceparent_is_read_and_written_as_w3c_trace_context_says() {
        let text = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        let parsed = TraceParent::parse(text).unwrap();
        assert_eq!(parsed.to_string(), text);
        assert!(parsed.sampled());
        assert_eq!(parsed.parent_id, [0x00, 0xf0, 0x67, 0xaa, 0x0b, 0xa9, 0x02, 0xb7]);
        // A later version's extra fields are ignored; version ff never is one.
        let later = "cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00-what-comes";
        assert!(!TraceParent::parse(later).unwrap().sampled());
        for bad in [
            "",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-x",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-1",
        ] {
            assert_eq!(TraceParent::parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn without_an_exporting_layer_spans_have_no_context_and_setting_one_is_harmless() {
        let parent = TraceParent::parse("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01").unwrap();
        let span = tracing::info_span!("request");
        set_parent(&span, &parent);
        link(&span, &parent);
        assert_eq!(context_of(&span), None);
    }
}
