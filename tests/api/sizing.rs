//! `percent` sizing through HTTP: a share of the available balance (quote for a buy,
//! base for a sell), stable across resends.

use crate::formats::{json_of, now, post, with_format_sources, OCTOBOT, TV_ALERT};
use crate::helpers::*;

#[tokio::test]
async fn percent_sizing_takes_a_share_of_the_available_balance() {
    let app = spawn_app_with(with_format_sources).await;
    app.paper().set_price("XBTUSD", "50000".parse().unwrap());
    app.paper().set_balance("ZUSD", "1000".parse().unwrap());
    app.paper().set_balance("XXBT", "0.01".parse().unwrap());
    let alert = TV_ALERT
        .replace("TIMENOW", &now())
        .replace(r#""contracts": "0.001""#, r#""percent": "10""#);
    let (status, order) =
        json_of(post(&app, "tradingview-token", "text/plain", &alert).await).await;
    assert_eq!(status, 202, "{order}");
    assert_eq!(
        order["volume"], "0.002",
        "10% of 1000 USD at 50000: {order}"
    );
    assert_eq!(order["signal"]["percent"], "10");
    // A resend after the balance moved is the same signal, not a conflict.
    app.paper().set_balance("ZUSD", "500".parse().unwrap());
    let again = post(&app, "tradingview-token", "text/plain", &alert).await;
    assert_eq!(again.status(), 200);
    let sell = OCTOBOT
        .replace("BUY", "SELL")
        .replace("VOLUME=0.001", "VOLUME=50%");
    let (status, order) = json_of(post(&app, "octobot-token", "text/plain", &sell).await).await;
    assert_eq!(status, 202, "{order}");
    assert_eq!(order["volume"], "0.005", "half of 0.01 XBT: {order}");
    // No ETH at all: nothing to sell.
    let nothing = sell.replace("BTCUSD", "ETHUSD");
    let (status, error) = json_of(post(&app, "octobot-token", "text/plain", &nothing).await).await;
    assert_eq!(status, 400, "{error}");
    assert_eq!(error["field"], "percent");
}
