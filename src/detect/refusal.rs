//! Applications that accept the TCP connection and then refuse the peer (issue 10 item 6),
//! in the forms real servers use, each within a second of the handshake:
//! - a short protocol-level reject (tens of bytes), then FIN (an X.400 MTA's disconnect, an
//!   SMTP `554`, a POP3 `-ERR`);
//! - a RST right after the handshake (SO_LINGER 0, TCP wrappers), before or after the
//!   client's first data;
//! - a FIN with no data.
//!
//! Ordinary short responses must not read as refusals: an HTTP/1.0 server also answers and
//! closes within milliseconds, but its response (status line and headers) is longer than
//! REJECT_MAX_BYTES, so it is none of these forms.

use serde::Serialize;

use crate::attempt::{FIRST_CLOSE_WITHIN_NS, FirstClose};

/// The longest protocol-level reject: "tens of bytes". The shortest ordinary HTTP response
/// with a Date or Server header is longer.
pub const REJECT_MAX_BYTES: u64 = 64;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RefusalForm {
    /// A short reject from the server, then its FIN.
    ShortRejectThenFin,
    /// The server's RST before the client sent anything.
    ResetBeforeData,
    /// The server's RST after the client's first data (and at most a short reject).
    ResetAfterData,
    /// The server's FIN with no data at all.
    FinWithoutData,
}

impl RefusalForm {
    /// Whether this form is a refusal on its own. A short reply then FIN is also how an
    /// ordinary service ends a short exchange: the real Linux capture
    /// `testdata/real/linux-tw-ts-on.pcap` is a server that sends "hello from prs\n" (15
    /// bytes) and closes, and the bundled POP3 sessions are a 23-byte greeting, `QUIT`, a
    /// 9-byte `+OK bye`, FIN. Byte totals cannot tell that from a 12-byte reject, so the form
    /// is a refusal only where the other direction of the same service port works
    /// (asymmetry.rs), not a cause by itself.
    pub fn unambiguous(self) -> bool {
        self != RefusalForm::ShortRejectThenFin
    }

    /// The JSON value.
    pub fn name(self) -> &'static str {
        match self {
            RefusalForm::ShortRejectThenFin => "short_reject_then_fin",
            RefusalForm::ResetBeforeData => "reset_before_data",
            RefusalForm::ResetAfterData => "reset_after_data",
            RefusalForm::FinWithoutData => "fin_without_data",
        }
    }

    pub const ALL: [RefusalForm; 4] = [
        RefusalForm::ShortRejectThenFin,
        RefusalForm::ResetBeforeData,
        RefusalForm::ResetAfterData,
        RefusalForm::FinWithoutData,
    ];
}

/// The refusal form of an established connection's first close, if it is one.
pub fn refusal(close: &FirstClose) -> Option<RefusalForm> {
    if !close.by_server || close.after_ns > FIRST_CLOSE_WITHIN_NS || close.after_ns < 0 {
        return None;
    }
    match (close.reset, close.server_bytes) {
        (_, bytes) if bytes > REJECT_MAX_BYTES => None,
        (true, _) if close.client_bytes == 0 => Some(RefusalForm::ResetBeforeData),
        (true, _) => Some(RefusalForm::ResetAfterData),
        (false, 0) => Some(RefusalForm::FinWithoutData),
        (false, _) => Some(RefusalForm::ShortRejectThenFin),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: i64 = 1_000_000;

    fn close(reset: bool, server_bytes: u64, client_bytes: u64) -> FirstClose {
        FirstClose {
            by_server: true,
            reset,
            after_ns: 6 * MS,
            server_bytes,
            client_bytes,
        }
    }

    #[test]
    fn the_forms_real_servers_use_are_refusals() {
        assert_eq!(
            refusal(&close(false, 11, 300)),
            Some(RefusalForm::ShortRejectThenFin)
        );
        assert_eq!(
            refusal(&close(true, 0, 0)),
            Some(RefusalForm::ResetBeforeData)
        );
        assert_eq!(
            refusal(&close(true, 0, 120)),
            Some(RefusalForm::ResetAfterData)
        );
        assert_eq!(
            refusal(&close(false, 0, 0)),
            Some(RefusalForm::FinWithoutData)
        );
    }

    #[test]
    fn a_short_http_response_a_client_close_or_a_late_close_is_not() {
        // "HTTP/1.0 200 OK" with Date, Server, Content-Type and a small body: 150 bytes.
        assert_eq!(refusal(&close(false, 150, 80)), None);
        let by_client = FirstClose {
            by_server: false,
            ..close(false, 0, 0)
        };
        assert_eq!(refusal(&by_client), None);
        let late = FirstClose {
            after_ns: 2_000 * MS,
            ..close(true, 0, 0)
        };
        assert_eq!(refusal(&late), None);
    }
}
