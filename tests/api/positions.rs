//! `GET /v1/positions` and `GET /v1/stats` over a scripted sequence of paper fills,
//! against a hand computation.

use serde_json::Value;

use crate::fills::{post, wait_status};
use crate::helpers::*;

fn order(side: &str, volume: &str, strategy: &str) -> String {
    format!(
        r#"{{"pair":"XBTUSD","side":"{side}","order_type":"market","volume":"{volume}","strategy":"{strategy}"}}"#
    )
}

/// Fills buy 0.1 @ 50000 (alpha), buy 0.1 @ 52000 (beta), sell 0.15 @ 55000 (alpha).
async fn scripted(app: &TestApp) {
    for (n, (price, side, volume, strategy)) in [
        ("50000", "buy", "0.1", "alpha"),
        ("52000", "buy", "0.1", "beta"),
        ("55000", "sell", "0.15", "alpha"),
    ]
    .into_iter()
    .enumerate()
    {
        app.paper().set_price("XBTUSD", price.parse().unwrap());
        let id = post(app, &format!("msg_pos_{n}"), &order(side, volume, strategy)).await;
        wait_status(app, &id, "filled").await;
    }
}

fn find<'a>(list: &'a Value, strategy: &str) -> &'a Value {
    list.as_array()
        .unwrap()
        .iter()
        .find(|p| p["strategy"] == strategy)
        .unwrap_or_else(|| panic!("no position for {strategy}: {list}"))
}

#[tokio::test]
async fn positions_and_pnl_equal_a_hand_computation_over_the_fills() {
    let app = spawn_app().await;
    scripted(&app).await;
    let (status, positions) = app.get_audit("/v1/positions").await;
    assert_eq!(status, 200, "{positions}");
    let pair = &positions["by_pair"][0];
    assert_eq!(pair["pair"], "XBTUSD");
    // Average cost: (0.1 × 50000 + 0.1 × 52000) / 0.2 = 51000; selling 0.15 at 55000
    // realises 0.15 × (55000 − 51000) = 600 and leaves 0.05 at 51000.
    assert_eq!(pair["net_volume"], "0.05");
    assert_eq!(pair["avg_entry_price"], "51000");
    assert_eq!(pair["realised_pnl"], "600");
    // 0.40% of 5000 + 5200 + 8250.
    assert_eq!(pair["fees"]["ZUSD"], "73.8");
    assert_eq!(pair["fills"], 3);
    // Per strategy: alpha bought 0.1 at 50000 and sold 0.15 at 55000 (0.1 closed for
    // +500, then short 0.05 at 55000); beta holds its 0.1 at 52000.
    let alpha = find(&positions["by_strategy"], "alpha");
    assert_eq!(alpha["source"], "hook");
    assert_eq!(alpha["net_volume"], "-0.05");
    assert_eq!(alpha["realised_pnl"], "500");
    assert_eq!(alpha["avg_entry_price"], "55000");
    let beta = find(&positions["by_strategy"], "beta");
    assert_eq!(beta["net_volume"], "0.1");
    assert_eq!(beta["realised_pnl"], "0");
    assert_eq!(beta["avg_entry_price"], "52000");
}

#[tokio::test]
async fn stats_count_orders_by_status_and_the_fill_ratio() {
    let app = spawn_app().await;
    scripted(&app).await;
    let (status, stats) = app.get_audit("/v1/stats").await;
    assert_eq!(status, 200, "{stats}");
    assert_eq!(stats["orders"]["filled"], 3, "{stats}");
    assert_eq!(stats["orders"]["placed"], 0);
    assert_eq!(stats["signals"]["accepted"], 3);
    assert_eq!(stats["fill_ratio"], 1.0);
    assert_eq!(stats["signal_to_wire"]["samples"], 3);
    assert_eq!(stats["signal_to_fill"]["samples"], 3);
    assert!(stats["signal_to_fill"]["p99_ms"].as_i64().unwrap() >= 0);
    let (status, body) = app.get_audit("/v1/stats?since=yesterday").await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body["message"].as_str().unwrap().contains("since"),
        "{body}"
    );
}

#[tokio::test]
async fn positions_and_stats_need_the_audit_token() {
    let app = spawn_app().await;
    for path in ["/v1/positions", "/v1/stats"] {
        let (status, _) = app.get_audit_as(path, "wrong-token").await;
        assert_eq!(status, 401, "{path}");
    }
    let (_, doc) = app.get_audit("/openapi.json").await;
    for path in ["/v1/positions", "/v1/stats"] {
        assert!(
            doc["paths"][path]["get"].is_object(),
            "{path} missing from OpenAPI"
        );
    }
    let cancel = &doc["paths"]["/v1/orders/{client_order_id}/cancel"]["post"];
    assert!(cancel.is_object(), "cancel missing from OpenAPI");
}

#[tokio::test]
async fn tradehook_audit_prints_the_positions_and_the_stats() {
    let app = spawn_app().await;
    scripted(&app).await;
    let dir = tempfile::tempdir().unwrap();
    let config = crate::cli::write_config(&app, dir.path());
    let output = tokio::task::spawn_blocking(move || {
        let positions = crate::cli::tradehook(&config, &["audit", "--positions"]);
        let stats = crate::cli::tradehook(&config, &["audit", "--stats"]);
        (positions, stats)
    })
    .await
    .unwrap();
    let (positions, stats) = output;
    assert!(
        positions.status.success(),
        "{}",
        String::from_utf8_lossy(&positions.stderr)
    );
    let positions: Value = serde_json::from_slice(&positions.stdout).unwrap();
    assert_eq!(positions["by_pair"][0]["realised_pnl"], "600");
    assert!(
        stats.status.success(),
        "{}",
        String::from_utf8_lossy(&stats.stderr)
    );
    let stats: Value = serde_json::from_slice(&stats.stdout).unwrap();
    assert_eq!(stats["orders"]["filled"], 3);
}
