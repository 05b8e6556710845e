//! A Spark Connect client: one gRPC channel (tonic over HTTP/2, rustls when `use_ssl`) and
//! one server-side session, driven by its own single-threaded runtime. SQL goes as Spark
//! Connect SQL commands (statements) or SQL relations (queries); results come back as Arrow
//! IPC batches, read with `arrow-ipc`. A row batch is written with a `WriteOperation` whose
//! input is a local relation (one Arrow batch). Nothing here knows about strata's nodes.

use std::io::Cursor;
use std::time::Duration;

use arrow_array::RecordBatch;
use bytes::Bytes;
use tonic::metadata::{MetadataKey, MetadataValue};
use tonic::transport::{Channel, ClientTlsConfig, Endpoint};

use super::proto;
use super::proto::spark_connect_service_client::SparkConnectServiceClient;
use super::url::SparkUrl;

/// What the server said went wrong, or why it could not be reached.
#[derive(Clone, Debug)]
pub struct ClientError {
    /// The gRPC status code (`Unavailable` when the server cannot be reached).
    pub code: tonic::Code,
    /// The server's message (Spark's error class and text), or the transport's.
    pub message: String,
}

impl ClientError {
    fn from_status(s: tonic::Status) -> ClientError {
        let mut message = s.message().to_string();
        if message.is_empty() {
            message = format!("{:?}", s.code());
        }
        ClientError {
            code: s.code(),
            message,
        }
    }

    fn local(message: impl Into<String>) -> ClientError {
        ClientError {
            code: tonic::Code::Internal,
            message: message.into(),
        }
    }
}

/// The rows a plan returned and what its metrics say it wrote.
#[derive(Default)]
pub struct Execution {
    /// Arrow batches, in order.
    pub batches: Vec<RecordBatch>,
    /// `numOutputRows` of the write command, when the plan wrote rows.
    pub rows_written: Option<u64>,
}

/// One Spark Connect session on one channel.
pub struct Client {
    rt: tokio::runtime::Runtime,
    grpc: SparkConnectServiceClient<Channel>,
    url: SparkUrl,
    session_id: String,
}

/// The client type strata reports to the server (shown in Spark's UI).
const CLIENT_TYPE: &str = concat!("strata/", env!("CARGO_PKG_VERSION"));

/// Results larger than this are refused by tonic's decoder: allow Spark's big batches.
const MAX_MESSAGE: usize = 512 * 1024 * 1024;

impl Client {
    /// Connects to `url` within `timeout` and opens a session with `settings` applied.
    pub fn connect(
        url: &SparkUrl,
        timeout: Duration,
        settings: &[(&str, String)],
    ) -> Result<Client, ClientError> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| ClientError::local(format!("cannot start the gRPC runtime: {e}")))?;
        let channel = rt.block_on(open_channel(url, timeout))?;
        let grpc = SparkConnectServiceClient::new(channel)
            .max_decoding_message_size(MAX_MESSAGE)
            .max_encoding_message_size(MAX_MESSAGE);
        let mut client = Client {
            rt,
            grpc,
            url: url.clone(),
            session_id: uuid::Uuid::new_v4().to_string(),
        };
        // Setting the session's configuration is the handshake: it fails fast when what
        // answers on the port is not a Spark Connect server.
        let set = set_config(&mut client.grpc, &client.url, &client.session_id, settings);
        match client
            .rt
            .block_on(async { tokio::time::timeout(timeout, set).await })
        {
            Ok(r) => r?,
            Err(_) => {
                return Err(ClientError {
                    code: tonic::Code::DeadlineExceeded,
                    message: format!("no answer within {:.0}s", timeout.as_secs_f64()),
                });
            }
        }
        Ok(client)
    }

    /// The session's id (for interrupting it from elsewhere).
    pub fn session_id(&self) -> &str {
        &self.session_id
    }

    fn user_context(url: &SparkUrl) -> proto::UserContext {
        let user = url
            .user_id
            .clone()
            .or_else(|| std::env::var("USER").ok())
            .unwrap_or_else(|| "strata".into());
        proto::UserContext {
            user_id: user.clone(),
            user_name: user,
            extensions: Vec::new(),
        }
    }

    /// Runs one SQL statement as a command (DDL, DML), eagerly.
    pub fn sql_command(&mut self, sql: &str) -> Result<Execution, ClientError> {
        let plan = proto::Plan {
            op_type: Some(proto::plan::OpType::Command(proto::Command {
                command_type: Some(proto::command::CommandType::SqlCommand(proto::SqlCommand {
                    input: Some(sql_relation(sql)),
                    ..Default::default()
                })),
            })),
        };
        self.execute(plan)
    }

    /// Runs one SQL query and returns its rows as Arrow batches.
    pub fn sql_query(&mut self, sql: &str) -> Result<Execution, ClientError> {
        let plan = proto::Plan {
            op_type: Some(proto::plan::OpType::Root(sql_relation(sql))),
        };
        self.execute(plan)
    }

    /// Appends `batch` to the table `table` (a multi-part name Spark parses), by position,
    /// as one local relation.
    pub fn insert_batch(&mut self, table: &str, batch: &RecordBatch) -> Result<(), ClientError> {
        use proto::write_operation::{SaveMode, SaveTable, SaveType, save_table::TableSaveMethod};
        let mut data = Vec::new();
        {
            let mut w = arrow_ipc::writer::StreamWriter::try_new(&mut data, &batch.schema())
                .map_err(|e| ClientError::local(format!("cannot encode rows as Arrow: {e}")))?;
            w.write(batch)
                .and_then(|_| w.finish())
                .map_err(|e| ClientError::local(format!("cannot encode rows as Arrow: {e}")))?;
        }
        let input = proto::Relation {
            common: None,
            rel_type: Some(proto::relation::RelType::LocalRelation(
                proto::LocalRelation {
                    data: Some(Bytes::from(data)),
                    schema: None,
                },
            )),
        };
        let plan = proto::Plan {
            op_type: Some(proto::plan::OpType::Command(proto::Command {
                command_type: Some(proto::command::CommandType::WriteOperation(
                    proto::WriteOperation {
                        input: Some(input),
                        save_type: Some(SaveType::Table(SaveTable {
                            table_name: table.to_string(),
                            save_method: TableSaveMethod::InsertInto as i32,
                        })),
                        mode: SaveMode::Append as i32,
                        ..Default::default()
                    },
                )),
            })),
        };
        self.execute(plan).map(drop)
    }

    fn execute(&mut self, plan: proto::Plan) -> Result<Execution, ClientError> {
        let req = proto::ExecutePlanRequest {
            session_id: self.session_id.clone(),
            user_context: Some(Self::user_context(&self.url)),
            operation_id: Some(uuid::Uuid::new_v4().to_string()),
            plan: Some(plan),
            client_type: Some(CLIENT_TYPE.into()),
            ..Default::default()
        };
        let req = with_metadata(&self.url, req);
        let grpc = &mut self.grpc;
        self.rt.block_on(async move {
            let mut stream = grpc
                .execute_plan(req)
                .await
                .map_err(ClientError::from_status)?
                .into_inner();
            let mut out = Execution::default();
            while let Some(msg) = stream.message().await.map_err(ClientError::from_status)? {
                if let Some(m) = &msg.metrics {
                    out.rows_written = out.rows_written.or_else(|| rows_written(m));
                }
                if let Some(proto::execute_plan_response::ResponseType::ArrowBatch(b)) =
                    msg.response_type
                {
                    read_batches(b.data, &mut out.batches)?;
                }
            }
            Ok(out)
        })
    }
}

/// Sets `settings` in the session's configuration.
async fn set_config(
    grpc: &mut SparkConnectServiceClient<Channel>,
    url: &SparkUrl,
    session_id: &str,
    settings: &[(&str, String)],
) -> Result<(), ClientError> {
    use proto::config_request::{Operation, Set, operation::OpType};
    let pairs = settings
        .iter()
        .map(|(k, v)| proto::KeyValue {
            key: k.to_string(),
            value: Some(v.clone()),
        })
        .collect();
    let req = proto::ConfigRequest {
        session_id: session_id.to_string(),
        user_context: Some(Client::user_context(url)),
        operation: Some(Operation {
            op_type: Some(OpType::Set(Set {
                pairs,
                silent: None,
            })),
        }),
        client_type: Some(CLIENT_TYPE.into()),
        client_observed_server_side_session_id: None,
    };
    grpc.config(with_metadata(url, req))
        .await
        .map_err(ClientError::from_status)?;
    Ok(())
}

/// Interrupts everything session `session_id` is running, from any thread, on a channel of
/// its own (the session's channel is busy with the statement), within `timeout`.
pub fn interrupt(url: &SparkUrl, session_id: &str, timeout: Duration) -> Result<(), ClientError> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| ClientError::local(e.to_string()))?;
    rt.block_on(async {
        let channel = open_channel(url, timeout).await?;
        let mut grpc = SparkConnectServiceClient::new(channel);
        let req = proto::InterruptRequest {
            session_id: session_id.to_string(),
            user_context: Some(Client::user_context(url)),
            client_type: Some(CLIENT_TYPE.into()),
            interrupt_type: proto::interrupt_request::InterruptType::All as i32,
            ..Default::default()
        };
        tokio::time::timeout(timeout, grpc.interrupt(with_metadata(url, req)))
            .await
            .map_err(|_| ClientError::local("the interrupt got no answer"))?
            .map_err(ClientError::from_status)?;
        Ok(())
    })
}

async fn open_channel(url: &SparkUrl, timeout: Duration) -> Result<Channel, ClientError> {
    let mut endpoint = Endpoint::from_shared(url.endpoint())
        .map_err(|e| ClientError::local(format!("invalid address: {e}")))?
        .connect_timeout(timeout)
        .tcp_nodelay(true)
        // A server that vanished (killed, network cut) is noticed within about 30 s.
        .http2_keep_alive_interval(Duration::from_secs(15))
        .keep_alive_timeout(Duration::from_secs(15))
        .keep_alive_while_idle(true);
    if url.use_ssl {
        endpoint = endpoint
            .tls_config(ClientTlsConfig::new().with_webpki_roots())
            .map_err(|e| ClientError::local(format!("cannot set up TLS: {e}")))?;
    }
    match tokio::time::timeout(timeout, endpoint.connect()).await {
        Ok(Ok(channel)) => Ok(channel),
        Ok(Err(e)) => Err(ClientError {
            code: tonic::Code::Unavailable,
            message: transport_message(&e),
        }),
        Err(_) => Err(ClientError {
            code: tonic::Code::Unavailable,
            message: format!("no connection within {:.0}s", timeout.as_secs_f64()),
        }),
    }
}

/// The innermost cause of a transport error ("Connection refused (os error 111)").
fn transport_message(e: &dyn std::error::Error) -> String {
    let mut cause: &dyn std::error::Error = e;
    while let Some(next) = cause.source() {
        cause = next;
    }
    cause.to_string()
}

fn with_metadata<T>(url: &SparkUrl, msg: T) -> tonic::Request<T> {
    let mut req = tonic::Request::new(msg);
    let md = req.metadata_mut();
    if let Some(token) = &url.token
        && let Ok(v) = MetadataValue::try_from(format!("Bearer {token}"))
    {
        md.insert("authorization", v);
    }
    for (k, v) in &url.headers {
        if let (Ok(k), Ok(v)) = (
            MetadataKey::from_bytes(k.as_bytes()),
            MetadataValue::try_from(v.as_str()),
        ) {
            md.insert(k, v);
        }
    }
    req
}

fn sql_relation(sql: &str) -> proto::Relation {
    proto::Relation {
        common: None,
        rel_type: Some(proto::relation::RelType::Sql(proto::Sql {
            query: sql.to_string(),
            ..Default::default()
        })),
    }
}

fn read_batches(data: Bytes, out: &mut Vec<RecordBatch>) -> Result<(), ClientError> {
    let reader = arrow_ipc::reader::StreamReader::try_new(Cursor::new(data), None)
        .map_err(|e| ClientError::local(format!("cannot read the server's Arrow batch: {e}")))?;
    for batch in reader {
        out.push(batch.map_err(|e| {
            ClientError::local(format!("cannot read the server's Arrow batch: {e}"))
        })?);
    }
    Ok(())
}

/// The rows a write command reports in its metrics (`numOutputRows` of the plan's root).
fn rows_written(m: &proto::execute_plan_response::Metrics) -> Option<u64> {
    m.metrics.iter().find_map(|o| {
        let write = o.name.contains("Command") || o.name.contains("Write");
        write
            .then(|| o.execution_metrics.get("numOutputRows"))
            .flatten()
            .and_then(|v| u64::try_from(v.value).ok())
    })
}
