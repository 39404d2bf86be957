//! What the service tells the outside about its work: the log on standard error and,
//! when the standard OpenTelemetry variables ask for them, traces sent over OTLP/HTTP
//! (protobuf) to a collector.
//!
//! Traces are off unless `OTEL_EXPORTER_OTLP_ENDPOINT` (or `..._TRACES_ENDPOINT`) is set
//! or `OTEL_TRACES_EXPORTER=otlp`; `OTEL_SDK_DISABLED=true` or `OTEL_TRACES_EXPORTER=none`
//! turn them off. Off, no layer is installed: the spans only traces need are at TRACE
//! level, which the log's filter never enables, so they are not even created. The SDK
//! reads the other variables itself (`OTEL_SERVICE_NAME`, `OTEL_RESOURCE_ATTRIBUTES`,
//! `OTEL_TRACES_SAMPLER`, `OTEL_BSP_*`, `OTEL_EXPORTER_OTLP_HEADERS`, ...).

use anyhow::Context as _;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_http::{Bytes, HttpClient, HttpError, Request, Response};
use opentelemetry_otlp::{WithExportConfig as _, WithHttpConfig as _};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::SdkTracerProvider;
use std::time::Duration;
use tracing_subscriber::Layer as _;
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;

use crate::config::{Config, LogFormat};

/// What was started; [`Telemetry::shutdown`] sends the spans still queued.
pub struct Telemetry {
    traces: Option<SdkTracerProvider>,
}

impl Telemetry {
    /// Sends what is queued (bounded by `OTEL_BSP_EXPORT_TIMEOUT`) and stops the exporter.
    pub async fn shutdown(self) {
        if let Some(provider) = self.traces {
            // The exporter's thread blocks on its calls, which run on this runtime.
            let done = tokio::task::spawn_blocking(move || provider.shutdown()).await;
            if let Ok(Err(e)) = done {
                tracing::warn!(error = %e, "the last traces could not be sent");
            }
        }
    }
}

/// The log, and traces when the environment asks for them (see the module's text).
pub fn init(config: &Config) -> anyhow::Result<Telemetry> {
    let env: Vec<(String, String)> = std::env::vars().filter(|(name, _)| name.starts_with("OTEL_")).collect();
    let traces = match TraceExport::from_env(&env)? {
        Some(export) => Some(export.provider()?),
        None => None,
    };
    let spans = traces.as_ref().map(|provider| {
        tracing_opentelemetry::layer()
            .with_tracer(provider.tracer("postbode"))
            // Only Postbode's own spans, never log events inside them, whatever the log's level.
            .with_filter(tracing_subscriber::filter::filter_fn(|meta| {
                meta.is_span() && meta.target().starts_with("postbode")
            }))
    });
    tracing_subscriber::registry()
        .with(log_layer(config))
        .with(spans)
        .try_init()
        .context("installing the log")?;
    postbode_core::trace::set_exporting(traces.is_some());
    Ok(Telemetry { traces })
}

type BoxedLayer = Box<dyn tracing_subscriber::Layer<tracing_subscriber::Registry> + Send + Sync>;

fn log_layer(config: &Config) -> BoxedLayer {
    let mut directives = std::env::var("POSTBODE_LOG").unwrap_or_else(|_| config.log.level.clone());
    // PostgreSQL's notices ("relation _sqlx_migrations already exists, skipping" at every
    // start) are for whoever reads sqlx's own log; a filter that names sqlx decides itself.
    if !directives.contains("sqlx") {
        directives.push_str(",sqlx::postgres::notice=warn");
    }
    let filter = tracing_subscriber::EnvFilter::new(directives);
    // Colour codes only for a person at a terminal, never in a log file or journal.
    let layer = tracing_subscriber::fmt::layer()
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr)
        // When the log cannot be written (a full disk under a redirected stderr), the
        // default reports it with `eprintln!`, which panics and drops the request being
        // served; the service must keep answering (503 where the store cannot write).
        .log_internal_errors(false);
    if config.log.format == LogFormat::Json {
        // Span fields (the request's account, a delivery's ids) go on every line too.
        layer
            .json()
            .with_current_span(true)
            .with_span_list(false)
            .with_filter(filter)
            .boxed()
    } else {
        layer.with_filter(filter).boxed()
    }
}

/// Whether and how traces are exported, from the standard variables.
#[derive(Debug, PartialEq)]
struct TraceExport {
    /// How long one export may take (`OTEL_EXPORTER_OTLP_TRACES_TIMEOUT`, milliseconds).
    timeout: Duration,
    /// `service.name` when neither `OTEL_SERVICE_NAME` nor `OTEL_RESOURCE_ATTRIBUTES` names one.
    default_service_name: bool,
}

impl TraceExport {
    fn from_env(env: &[(String, String)]) -> anyhow::Result<Option<Self>> {
        let var = |name: &str| {
            env.iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.trim())
                .filter(|v| !v.is_empty())
        };
        if var("OTEL_SDK_DISABLED").is_some_and(|v| v.eq_ignore_ascii_case("true")) {
            return Ok(None);
        }
        let endpoint = var("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT").or(var("OTEL_EXPORTER_OTLP_ENDPOINT"));
        match var("OTEL_TRACES_EXPORTER") {
            Some("none") => return Ok(None),
            Some("otlp") => {}
            Some(other) => anyhow::bail!(
                "OTEL_TRACES_EXPORTER={other}: Postbode exports traces with otlp (or none, to turn them off)"
            ),
            None if endpoint.is_none() => return Ok(None),
            None => {}
        }
        let protocol = var("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL").or(var("OTEL_EXPORTER_OTLP_PROTOCOL"));
        if let Some(other) = protocol.filter(|p| *p != "http/protobuf") {
            anyhow::bail!(
                "OTLP protocol {other}: Postbode sends traces over HTTP as protobuf; set \
                 OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf (and the collector's HTTP port, usually 4318)"
            );
        }
        let timeout = match var("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT").or(var("OTEL_EXPORTER_OTLP_TIMEOUT")) {
            None => Duration::from_secs(10),
            Some(ms) => Duration::from_millis(
                ms.parse()
                    .with_context(|| format!("OTEL_EXPORTER_OTLP_TIMEOUT={ms} is not a number of milliseconds"))?,
            ),
        };
        let names_service = var("OTEL_SERVICE_NAME").is_some()
            || var("OTEL_RESOURCE_ATTRIBUTES")
                .is_some_and(|a| a.split(',').any(|kv| kv.trim().starts_with("service.name=")));
        Ok(Some(Self {
            timeout,
            default_service_name: !names_service,
        }))
    }

    fn provider(self) -> anyhow::Result<SdkTracerProvider> {
        let http = reqwest::Client::builder()
            .timeout(self.timeout)
            // The collector is named by the variables, not by a proxy of the environment.
            .no_proxy()
            .build()
            .context("building the traces' HTTP client")?;
        let client = CollectorClient {
            http,
            runtime: tokio::runtime::Handle::try_current().context("traces need the async runtime")?,
        };
        // Endpoint, headers and compression come from the OTEL_EXPORTER_OTLP_* variables.
        let exporter = opentelemetry_otlp::SpanExporter::builder()
            .with_http()
            .with_http_client(client)
            .with_timeout(self.timeout)
            .build()
            .context("the OTLP trace exporter (OTEL_EXPORTER_OTLP_*)")?;
        let mut resource = Resource::builder();
        if self.default_service_name {
            resource = resource.with_service_name("postbode");
        }
        let resource = resource
            .with_attribute(opentelemetry::KeyValue::new(
                "service.version",
                env!("CARGO_PKG_VERSION"),
            ))
            .build();
        Ok(SdkTracerProvider::builder()
            .with_batch_exporter(exporter)
            .with_resource(resource)
            .build())
    }
}

/// The workspace's reqwest as the exporter's HTTP client. The exporter calls it from its
/// own thread, outside the async runtime, so each call runs as a task on the runtime.
#[derive(Debug)]
struct CollectorClient {
    http: reqwest::Client,
    runtime: tokio::runtime::Handle,
}

#[async_trait::async_trait]
impl HttpClient for CollectorClient {
    async fn send_bytes(&self, request: Request<Bytes>) -> Result<Response<Bytes>, HttpError> {
        let http = self.http.clone();
        let call = async move {
            let response = http.execute(reqwest::Request::try_from(request)?).await?;
            let mut answer = Response::builder().status(response.status());
            if let Some(headers) = answer.headers_mut() {
                *headers = response.headers().clone();
            }
            Ok::<_, HttpError>(answer.body(response.bytes().await?)?)
        };
        self.runtime.spawn(call).await?
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn export(pairs: &[(&str, &str)]) -> anyhow::Result<Option<TraceExport>> {
        let env: Vec<(String, String)> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        TraceExport::from_env(&env)
    }

    #[test]
    fn traces_are_off_unless_the_standard_variables_ask_for_them() {
        assert_eq!(export(&[]).unwrap(), None);
        assert_eq!(export(&[("OTEL_SERVICE_NAME", "x")]).unwrap(), None);
        let on = export(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4318")]).unwrap();
        assert_eq!(
            on,
            Some(TraceExport {
                timeout: Duration::from_secs(10),
                default_service_name: true
            })
        );
        assert!(export(&[("OTEL_TRACES_EXPORTER", "otlp")]).unwrap().is_some());
        for off in [("OTEL_SDK_DISABLED", "true"), ("OTEL_TRACES_EXPORTER", "none")] {
            assert_eq!(
                export(&[("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://c:4318/v1/traces"), off]).unwrap(),
                None,
                "{off:?}"
            );
        }
        let named = export(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318"),
            (
                "OTEL_RESOURCE_ATTRIBUTES",
                "deployment.environment=prod, service.name=hooks",
            ),
            ("OTEL_EXPORTER_OTLP_TIMEOUT", "2500"),
        ])
        .unwrap()
        .unwrap();
        assert!(!named.default_service_name);
        assert_eq!(named.timeout, Duration::from_millis(2500));
    }

    #[test]
    fn what_postbode_cannot_send_is_refused_with_the_way_out() {
        let grpc = export(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4317"),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
        ])
        .unwrap_err()
        .to_string();
        assert!(grpc.contains("OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf"), "{grpc}");
        let zipkin = export(&[("OTEL_TRACES_EXPORTER", "zipkin")]).unwrap_err().to_string();
        assert!(zipkin.contains("otlp"), "{zipkin}");
    }
}
