//! Reading the tools a JSON-RPC body calls, and the JSON-RPC errors for bodies that
//! cannot be read.
//!
//! Only what the scope check needs is read: each message's `method` and, for
//! `tools/call`, `params.name`. Everything else is skipped unread. serde's derived
//! structs refuse a member named twice, so a message with two `method`s (or a call with
//! two `name`s) is refused rather than read one way here and another by the server.

use std::borrow::Cow;

use serde::Deserialize;
use serde_json::value::RawValue;

/// The error code of a request naming a session the server does not serve: the one MCP
/// SDKs use (JSON-RPC's range for server errors, §5.1).
pub(crate) const SESSION_NOT_FOUND: i32 = -32001;

/// The error code of a request the server cannot take now (JSON-RPC's generic server
/// error, §5.1).
pub(crate) const SERVER_BUSY: i32 = -32000;

/// The error code of a failure inside the server (JSON-RPC's internal error, §5.1).
pub(crate) const INTERNAL_ERROR: i32 = -32603;

/// The JSON-RPC method whose tool is checked.
const TOOLS_CALL: &str = "tools/call";

/// One JSON-RPC message: a request, a notification, or a response the client sends back.
#[derive(Deserialize)]
struct Message<'a> {
    #[serde(default)]
    method: Option<Cow<'a, str>>,
    /// Read further only for `tools/call`: other methods' params are the server's.
    #[serde(default, borrow)]
    params: Option<&'a RawValue>,
}

/// The params of `tools/call` (MCP `CallToolRequestParams`), as far as the check reads.
#[derive(Deserialize)]
struct CallParams<'a> {
    #[serde(borrow)]
    name: Cow<'a, str>,
}

/// Why a body was not read, each a JSON-RPC 2.0 error code (§5.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Unreadable {
    /// Not JSON at all (-32700).
    Parse,
    /// JSON, but not a JSON-RPC message or batch of them (-32600).
    InvalidRequest,
    /// A `tools/call` whose `params.name` is not a string (-32602).
    InvalidParams,
}

impl Unreadable {
    /// The JSON-RPC error code.
    pub(crate) fn code(self) -> i32 {
        match self {
            Self::Parse => -32700,
            Self::InvalidRequest => -32600,
            Self::InvalidParams => -32602,
        }
    }

    /// The error message: fixed text, never a piece of the body.
    pub(crate) fn message(self) -> &'static str {
        match self {
            Self::Parse => "Parse error: the request body is not JSON",
            Self::InvalidRequest => "Invalid Request: not a JSON-RPC message or batch",
            Self::InvalidParams => "Invalid params: tools/call needs a string params.name",
        }
    }

    fn of(error: &serde_json::Error) -> Self {
        if error.is_data() {
            Self::InvalidRequest
        } else {
            Self::Parse
        }
    }
}

/// The names of the tools `body` calls: one JSON-RPC message or a batch (an array) of
/// them. A body with no `tools/call` calls none.
pub(crate) fn tools_called(body: &[u8]) -> Result<Vec<Cow<'_, str>>, Unreadable> {
    let batch = body
        .iter()
        .find(|b| !matches!(b, b' ' | b'\t' | b'\n' | b'\r'))
        == Some(&b'[');
    let messages = if batch {
        serde_json::from_slice::<Vec<Message<'_>>>(body)
    } else {
        serde_json::from_slice::<Message<'_>>(body).map(|m| vec![m])
    }
    .map_err(|e| Unreadable::of(&e))?;
    let mut tools = Vec::new();
    for message in messages {
        if message.method.as_deref() != Some(TOOLS_CALL) {
            continue;
        }
        let params = message.params.ok_or(Unreadable::InvalidParams)?;
        let params: CallParams<'_> =
            serde_json::from_str(params.get()).map_err(|_| Unreadable::InvalidParams)?;
        tools.push(params.name);
    }
    Ok(tools)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn called(body: &str) -> Result<Vec<String>, Unreadable> {
        tools_called(body.as_bytes()).map(|t| t.into_iter().map(Cow::into_owned).collect())
    }

    #[test]
    fn reads_the_tool_of_a_call() {
        let body = r#"{"jsonrpc":"2.0","id":1,"method":"tools/call",
            "params":{"name":"orders_create","arguments":{"item":"tea","n":[1,{"x":2}]}}}"#;
        assert_eq!(called(body), Ok(vec!["orders_create".to_owned()]));
        // Member order does not matter, and escapes are read as the server reads them.
        let body = r#"{"params":{"arguments":{},"name":"orders\u005fcreate"},"method":"tools\/call","id":"a","jsonrpc":"2.0"}"#;
        assert_eq!(called(body), Ok(vec!["orders_create".to_owned()]));
    }

    #[test]
    fn other_messages_call_nothing() {
        for body in [
            r#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#,
            r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18"}}"#,
            r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#,
            // Other methods' params are not read, whatever their shape.
            r#"{"jsonrpc":"2.0","id":2,"method":"custom","params":[1,2,3]}"#,
            // A response the client sends back to a server request.
            r#"{"jsonrpc":"2.0","id":7,"result":{"roots":[]}}"#,
            // Method names are case-sensitive, as the server matches them.
            r#"{"jsonrpc":"2.0","id":1,"method":"Tools/Call","params":{"name":"x"}}"#,
            "[]",
        ] {
            assert_eq!(called(body), Ok(vec![]), "{body}");
        }
    }

    #[test]
    fn reads_positional_params_as_serde_does() {
        // A server whose params are a serde-derived struct reads `["a"]` as name "a":
        // so does the check.
        let body = r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":["a"]}"#;
        assert_eq!(called(body), Ok(vec!["a".to_owned()]));
    }

    #[test]
    fn reads_every_call_of_a_batch() {
        let body = r#" [{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"a"}},
            {"jsonrpc":"2.0","id":2,"method":"tools/list"},
            {"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"b"}}]"#;
        assert_eq!(called(body), Ok(vec!["a".to_owned(), "b".to_owned()]));
    }

    #[test]
    fn refuses_what_it_cannot_read() {
        let cases = [
            ("", Unreadable::Parse),
            ("not json", Unreadable::Parse),
            (r#"{"method":"tools/call""#, Unreadable::Parse),
            (r#"{"method":"tools/list"} trailing"#, Unreadable::Parse),
            ("\"tools/call\"", Unreadable::InvalidRequest),
            ("42", Unreadable::InvalidRequest),
            (r#"{"method":7}"#, Unreadable::InvalidRequest),
            (
                r#"[{"method":"tools/list"}, 3]"#,
                Unreadable::InvalidRequest,
            ),
            // Two methods: read one way here, another by the server? Refused instead.
            (
                r#"{"method":"tools/list","method":"tools/call","params":{"name":"a"}}"#,
                Unreadable::InvalidRequest,
            ),
            (
                r#"{"method":"tools/list","m\u0065thod":"tools/call","params":{"name":"a"}}"#,
                Unreadable::InvalidRequest,
            ),
            (
                r#"{"method":"tools/call","params":{"name":"a"},"params":{"name":"b"}}"#,
                Unreadable::InvalidRequest,
            ),
            (r#"{"method":"tools/call"}"#, Unreadable::InvalidParams),
            (
                r#"{"method":"tools/call","params":null}"#,
                Unreadable::InvalidParams,
            ),
            (
                r#"{"method":"tools/call","params":{}}"#,
                Unreadable::InvalidParams,
            ),
            (
                r#"{"method":"tools/call","params":"a"}"#,
                Unreadable::InvalidParams,
            ),
            (
                r#"{"method":"tools/call","params":{"name":1}}"#,
                Unreadable::InvalidParams,
            ),
            (
                r#"{"method":"tools/call","params":{"name":"a","name":"b"}}"#,
                Unreadable::InvalidParams,
            ),
        ];
        for (body, expected) in cases {
            assert_eq!(called(body), Err(expected), "{body}");
        }
    }

    #[test]
    fn codes_are_json_rpc_codes() {
        assert_eq!(Unreadable::Parse.code(), -32700);
        assert_eq!(Unreadable::InvalidRequest.code(), -32600);
        assert_eq!(Unreadable::InvalidParams.code(), -32602);
    }
}
