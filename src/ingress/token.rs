//! Token authentication for platforms that cannot sign (TradingView): a passphrase in
//! the body, compared in constant time, and an optional IP allow-list.

use std::net::IpAddr;

use axum::http::HeaderMap;
use ipnet::IpNet;
use subtle::ConstantTimeEq;

/// Whether `given` equals `expected`, in time independent of where they differ.
pub fn passphrase_matches(expected: &str, given: Option<&str>) -> bool {
    let Some(given) = given else {
        return false;
    };
    // `ct_eq` on slices of unequal length returns false without comparing contents;
    // the length of the configured passphrase is not the secret part.
    bool::from(expected.as_bytes().ct_eq(given.as_bytes()))
}

/// Whether `client` is allowed by `allowed` (an empty list allows everyone).
pub fn ip_allowed(allowed: &[IpNet], client: IpAddr) -> bool {
    allowed.is_empty() || allowed.iter().any(|net| net.contains(&client))
}

/// The client address: the socket peer, unless the peer is a trusted proxy, in which
/// case the right-most `X-Forwarded-For` entry that is not itself a trusted proxy.
///
/// Entries left of an untrusted one were written by the client and prove nothing.
pub fn client_ip(peer: IpAddr, forwarded_for: Option<&str>, trusted: &[IpNet]) -> IpAddr {
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|net| net.contains(ip));
    if !is_trusted(&peer) {
        return peer;
    }
    let Some(header) = forwarded_for else {
        return peer;
    };
    let mut last = peer;
    for entry in header.rsplit(',') {
        match entry.trim().parse::<IpAddr>() {
            Ok(ip) if is_trusted(&ip) => last = ip,
            Ok(ip) => return ip,
            // A garbled entry: stop at the last address we could trust.
            Err(_) => return last,
        }
    }
    last
}

/// Stands in for a header line that is not visible ASCII: it parses as no address, so
/// the walk from the right stops there like at any garbled entry.
const UNREADABLE_LINE: &str = "unreadable";

/// The client address of a request: [`client_ip`] over every `X-Forwarded-For` header
/// line, joined in the order received.
///
/// A proxy may append its own header line instead of extending the client's, so
/// reading only the first line would take a client-written address (`allowed_ips`
/// and the per-address limiter would trust a spoof). RFC 9110 §5.3: several lines of a
/// list header mean the same as one line with the values joined by commas.
pub fn forwarded_client_ip(peer: IpAddr, headers: &HeaderMap, trusted: &[IpNet]) -> IpAddr {
    // Untrusted peers (all forged traffic) cost no allocation.
    if !trusted.iter().any(|net| net.contains(&peer)) {
        return peer;
    }
    let lines: Vec<&str> = headers
        .get_all("x-forwarded-for")
        .iter()
        .map(|line| line.to_str().unwrap_or(UNREADABLE_LINE))
        .collect();
    if lines.is_empty() {
        return peer;
    }
    client_ip(peer, Some(&lines.join(",")), trusted)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn nets(list: &[&str]) -> Vec<IpNet> {
        list.iter().map(|s| s.parse().unwrap()).collect()
    }

    #[test]
    fn passphrase_must_match_exactly() {
        assert!(passphrase_matches("correct horse", Some("correct horse")));
        assert!(!passphrase_matches("correct horse", Some("correct hors")));
        assert!(!passphrase_matches("correct horse", Some("")));
        assert!(!passphrase_matches("correct horse", None));
    }

    #[test]
    fn empty_allow_list_allows_everyone() {
        assert!(ip_allowed(&[], ip("203.0.113.9")));
        let allowed = nets(&["52.89.214.238/32", "10.0.0.0/8"]);
        assert!(ip_allowed(&allowed, ip("10.1.2.3")));
        assert!(!ip_allowed(&allowed, ip("203.0.113.9")));
    }

    #[test]
    fn forwarded_for_is_ignored_from_untrusted_peers() {
        let trusted = nets(&["127.0.0.1/32"]);
        assert_eq!(
            client_ip(ip("203.0.113.9"), Some("10.0.0.1"), &trusted),
            ip("203.0.113.9")
        );
    }

    #[test]
    fn rightmost_untrusted_forwarded_entry_is_the_client() {
        let trusted = nets(&["127.0.0.1/32", "10.0.0.0/8"]);
        let header = "1.1.1.1, 198.51.100.7, 10.0.0.2";
        assert_eq!(
            client_ip(ip("127.0.0.1"), Some(header), &trusted),
            ip("198.51.100.7")
        );
        assert_eq!(client_ip(ip("127.0.0.1"), None, &trusted), ip("127.0.0.1"));
    }

    fn forwarded(lines: &[&[u8]]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for line in lines {
            let value = axum::http::HeaderValue::from_bytes(line).unwrap();
            headers.append("x-forwarded-for", value);
        }
        headers
    }

    #[test]
    fn a_spoofed_first_forwarded_line_loses_to_the_line_the_proxy_appended() {
        let trusted = nets(&["127.0.0.1/32"]);
        let headers = forwarded(&[b"10.9.9.9", b"203.0.113.5"]);
        assert_eq!(
            forwarded_client_ip(ip("127.0.0.1"), &headers, &trusted),
            ip("203.0.113.5")
        );
        let headers = forwarded(&[b"1.1.1.1, 10.9.9.9", b"203.0.113.5, 127.0.0.1"]);
        assert_eq!(
            forwarded_client_ip(ip("127.0.0.1"), &headers, &trusted),
            ip("203.0.113.5")
        );
    }

    #[test]
    fn forwarded_lines_count_only_from_a_trusted_peer_and_stop_at_garbage() {
        let trusted = nets(&["127.0.0.1/32", "10.0.0.0/8"]);
        let headers = forwarded(&[b"203.0.113.5"]);
        assert_eq!(
            forwarded_client_ip(ip("198.51.100.1"), &headers, &trusted),
            ip("198.51.100.1")
        );
        assert_eq!(
            forwarded_client_ip(ip("127.0.0.1"), &HeaderMap::new(), &trusted),
            ip("127.0.0.1")
        );
        // A line that is not text stops the walk at the last trusted hop before it.
        let headers = forwarded(&[b"203.0.113.5", b"\xff\xfe", b"10.0.0.7"]);
        assert_eq!(
            forwarded_client_ip(ip("127.0.0.1"), &headers, &trusted),
            ip("10.0.0.7")
        );
    }
}
