//! GraphQL over WebSocket at `GET /graphql`: the `graphql-transport-ws` subprotocol (what
//! the graphql-ws JS client speaks) and the legacy `graphql-ws` one.
//!
//! The `connection_init` payload carries the session: `{"authorization": "Bearer <token>"}`
//! (`Authorization` is accepted too). It is resolved exactly as an HTTP request's bearer
//! token is ([`crate::app::principal`]), so tenancy and roles apply the same way; cookies of
//! the upgrade request are ignored (a page of another site could otherwise open a socket
//! with them). Without a valid session the socket is closed with `4403 Forbidden`; a
//! `subscribe` before the acknowledgement closes it with `4401 Unauthorized`, and a socket
//! that sends no `connection_init` within [`INIT_TIMEOUT`] is closed with
//! `4408 Connection initialisation timeout`. Mutations are refused here (they are sent with
//! `POST /graphql`, which answers once the projections show them); queries and
//! subscriptions run. Under `graphql-transport-ws`, an operation that fails is answered with
//! an `error` message (no data, no `complete`), and one the client completes gets no
//! `complete` back.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, AtomicU16, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_graphql::http::{ALL_WEBSOCKET_PROTOCOLS, WebSocketProtocols};
use async_graphql::{Data, Executor, Pos, Response};
use async_graphql_axum::{GraphQLProtocol, GraphQLWebSocket};
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response as HttpResponse;
use futures::channel::mpsc;
use futures::stream::{BoxStream, SplitSink, StreamExt};
use futures::{SinkExt, future};
use serde_json::Value;
use uuid::Uuid;

use crate::app::{AppState, code_client_errors, error_response, is_mutation, principal};
use crate::graphql::GembaSchema;
use crate::graphql::context::RequestContext;
use crate::graphql::errors::ApiError;

/// How long a new socket may take to send `connection_init`.
pub const INIT_TIMEOUT: Duration = Duration::from_secs(10);

/// Most client-completed operation ids remembered per socket.
const MAX_COMPLETED_IDS: usize = 256;

/// Close code: the session in `connection_init` is missing or not valid.
const FORBIDDEN: u16 = 4403;
/// Close code: `subscribe` before the connection was acknowledged.
const UNAUTHORIZED: u16 = 4401;
/// Close code: no `connection_init` in time.
const INIT_TIMED_OUT: u16 = 4408;
/// Close code: the server failed.
const INTERNAL: u16 = 1011;

/// `GET /graphql`: a WebSocket upgrade; anything else is refused (`405`: GraphQL over HTTP
/// is `POST`, so no mutation is ever sent with GET).
pub(crate) async fn subscriptions(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
    protocol: Result<GraphQLProtocol, StatusCode>,
) -> HttpResponse {
    let Ok(upgrade) = upgrade else {
        let error = ApiError::Validation { field: "method".into(), message: "must be POST (GET only opens a WebSocket)".into() };
        let mut response = error_response(StatusCode::METHOD_NOT_ALLOWED, &error);
        response.headers_mut().insert(header::ALLOW, HeaderValue::from_static("POST"));
        return response;
    };
    let Ok(protocol) = protocol else {
        let error = ApiError::Validation {
            field: "Sec-WebSocket-Protocol".into(),
            message: "must offer graphql-transport-ws (or graphql-ws)".into(),
        };
        return error_response(StatusCode::BAD_REQUEST, &error);
    };
    let transport_ws = offered_protocol(&headers) == Some(WebSocketProtocols::GraphQLWS);
    upgrade.protocols(ALL_WEBSOCKET_PROTOCOLS).on_upgrade(move |socket| serve_socket(socket, state, peer, protocol, transport_ws))
}

/// The first GraphQL subprotocol the client offers (the one the connection speaks).
fn offered_protocol(headers: &HeaderMap) -> Option<WebSocketProtocols> {
    headers
        .get(header::SEC_WEBSOCKET_PROTOCOL)
        .and_then(|v| v.to_str().ok())
        .and_then(|offered| offered.split(',').find_map(|p| WebSocketProtocols::from_str(p.trim()).ok()))
}

/// The bearer token of a `connection_init` payload.
fn bearer(payload: &Value) -> Option<String> {
    let value = payload.get("authorization").or_else(|| payload.get("Authorization"))?.as_str()?;
    let token = value.strip_prefix("Bearer ").unwrap_or(value).trim();
    (!token.is_empty()).then(|| token.to_owned())
}

/// What a connection's message rewriting needs to know.
#[derive(Default)]
struct Connection {
    /// Set once the session was accepted.
    acknowledged: AtomicBool,
    /// The close code to send instead of the library's generic one (0: none).
    close_code: AtomicU16,
    /// Operations the client completed itself (they get no `complete` back).
    completed_by_client: Mutex<HashSet<String>>,
}

impl Connection {
    /// Notes an operation the client completes.
    fn observe(&self, incoming: &Message) {
        let Message::Text(text) = incoming else { return };
        let Ok(value) = serde_json::from_str::<Value>(text.as_str()) else { return };
        if let (Some("complete" | "stop"), Some(id)) = (value["type"].as_str(), value["id"].as_str())
            && let Ok(mut completed) = self.completed_by_client.lock()
        {
            // Ids of operations that had already ended are never taken out again: bounded.
            if completed.len() >= MAX_COMPLETED_IDS {
                completed.clear();
            }
            completed.insert(id.to_owned());
        }
    }

    /// Whether the client completed operation `id` (forgets it: ids may be reused).
    fn completed_by_client(&self, id: &str) -> bool {
        self.completed_by_client.lock().is_ok_and(|mut completed| completed.remove(id))
    }
}

async fn serve_socket(socket: WebSocket, state: AppState, peer: SocketAddr, protocol: GraphQLProtocol, transport_ws: bool) {
    let connection = Arc::new(Connection::default());
    let (sink, stream) = socket.split();
    let observing = Arc::clone(&connection);
    let stream = stream.inspect(move |incoming| {
        if let Ok(message) = incoming {
            observing.observe(message);
        }
    });
    let (outgoing, queued) = mpsc::channel::<Message>(16);
    let mut writer = tokio::spawn(write(sink, queued, Arc::clone(&connection), transport_ws));
    let gemba = state.gemba.clone();
    let initialising = Arc::clone(&connection);
    let on_init = move |payload: Value| async move {
        let token = bearer(&payload);
        let found = match &token {
            Some(token) => principal(&gemba, token).await,
            None => Ok(None),
        };
        match found {
            Ok(Some(p)) => {
                let mut data = Data::default();
                data.insert(RequestContext {
                    principal: Some(p),
                    request_id: Uuid::now_v7(),
                    idempotency_key: None,
                    client_ip: peer.ip(),
                    token,
                });
                initialising.acknowledged.store(true, Ordering::SeqCst);
                Ok(data)
            }
            Ok(None) => {
                initialising.close_code.store(FORBIDDEN, Ordering::SeqCst);
                Err(async_graphql::Error::new("Forbidden"))
            }
            Err(error) => {
                tracing::warn!(code = error.code(), "a socket's session could not be checked");
                initialising.close_code.store(INTERNAL, Ordering::SeqCst);
                Err(async_graphql::Error::new("internal error"))
            }
        }
    };
    let served = GraphQLWebSocket::new_with_pair(outgoing, stream, SocketExecutor(state.schema.clone()), protocol)
        .on_connection_init(on_init)
        .serve();
    tokio::select! {
        // The library is done (client gone, or it closed): let the writer send what is queued.
        () = served => {
            if let Err(error) = writer.await {
                tracing::warn!(%error, "a socket's writer failed");
            }
        }
        // The writer closed the socket (or the client went away).
        _ = &mut writer => {}
    }
}

/// Sends the library's messages (rewritten for the protocol) to the client, and closes a
/// socket that sent no `connection_init` within [`INIT_TIMEOUT`].
async fn write(
    mut sink: SplitSink<WebSocket, Message>,
    mut queued: mpsc::Receiver<Message>,
    connection: Arc<Connection>,
    transport_ws: bool,
) {
    let deadline = tokio::time::sleep(INIT_TIMEOUT);
    tokio::pin!(deadline);
    let mut waiting = true;
    let mut errored = HashSet::new();
    loop {
        tokio::select! {
            message = queued.next() => {
                let Some(message) = message else { break };
                let closing = matches!(message, Message::Close(_));
                if let Some(message) = rewrite(message, transport_ws, &connection, &mut errored)
                    && sink.send(message).await.is_err()
                {
                    break;
                }
                if closing {
                    break;
                }
            }
            () = &mut deadline, if waiting => {
                waiting = false;
                if !connection.acknowledged.load(Ordering::SeqCst) {
                    let reason = "Connection initialisation timeout".into();
                    if sink.send(Message::Close(Some(CloseFrame { code: INIT_TIMED_OUT, reason }))).await.is_err() {
                        tracing::debug!("a socket went away before its initialisation timed out");
                    }
                    break;
                }
            }
        }
    }
    if sink.close().await.is_err() {
        tracing::debug!("a socket was gone before it was closed");
    }
}

/// Adapts the library's outgoing messages to `graphql-transport-ws`: failed operations as
/// `error` messages (without a following `complete`), and its close codes.
fn rewrite(message: Message, transport_ws: bool, connection: &Connection, errored: &mut HashSet<String>) -> Option<Message> {
    match message {
        Message::Text(text) if transport_ws => {
            let Ok(value) = serde_json::from_str::<Value>(text.as_str()) else {
                return Some(Message::Text(text));
            };
            let id = value.get("id").and_then(Value::as_str).map(str::to_owned);
            match (value.get("type").and_then(Value::as_str), id) {
                (Some("next"), Some(id)) if value["payload"]["data"].is_null() && value["payload"]["errors"].is_array() => {
                    let error = serde_json::json!({"type": "error", "id": id, "payload": value["payload"]["errors"]});
                    errored.insert(id);
                    Some(Message::Text(error.to_string().into()))
                }
                (Some("complete"), Some(id)) if errored.remove(&id) || connection.completed_by_client(&id) => None,
                _ => Some(Message::Text(text)),
            }
        }
        Message::Close(Some(frame)) => {
            let code = match connection.close_code.load(Ordering::SeqCst) {
                0 if frame.code == INTERNAL && !connection.acknowledged.load(Ordering::SeqCst) => UNAUTHORIZED,
                0 => frame.code,
                code => code,
            };
            let reason = match code {
                FORBIDDEN => "Forbidden".into(),
                UNAUTHORIZED => "Unauthorized".into(),
                INTERNAL => "internal error".into(),
                _ => frame.reason,
            };
            Some(Message::Close(Some(CloseFrame { code, reason })))
        }
        other => Some(other),
    }
}

/// The schema as the socket runs it: no mutations, and the GraphQL layer's own errors coded
/// like over HTTP.
#[derive(Clone)]
struct SocketExecutor(GembaSchema);

fn mutation_refused() -> Response {
    let error: async_graphql::Error =
        ApiError::Validation { field: "operation".into(), message: "must not be a mutation here: send it with POST /graphql".into() }
            .into();
    Response::from_errors(vec![error.into_server_error(Pos::default())])
}

impl Executor for SocketExecutor {
    async fn execute(&self, request: async_graphql::Request) -> Response {
        if is_mutation(&request) {
            return mutation_refused();
        }
        let mut response = self.0.execute(request).await;
        code_client_errors(&mut response);
        response
    }

    fn execute_stream(&self, request: async_graphql::Request, session_data: Option<Arc<Data>>) -> BoxStream<'static, Response> {
        if is_mutation(&request) {
            return futures::stream::once(future::ready(mutation_refused())).boxed();
        }
        Executor::execute_stream(&self.0, request, session_data)
            .map(|mut response| {
                code_client_errors(&mut response);
                response
            })
            .boxed()
    }
}
