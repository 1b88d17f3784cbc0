//! The audit API: filters, paging and export return exactly the right rows.

use std::collections::HashSet;

use serde_json::Value;

use crate::helpers::*;

/// Posts a signal and returns its client order ID.
async fn place(app: &TestApp, id: &str, body: &str) -> String {
    let response = app.post_hook(id, body).await;
    assert!(
        response.status().is_success() || response.status() == 422,
        "{}",
        response.status()
    );
    let value: Value = response.json().await.unwrap();
    value["client_order_id"]
        .as_str()
        .or_else(|| value["order"]["client_order_id"].as_str())
        .unwrap()
        .to_owned()
}

fn ids(page: &Value) -> Vec<String> {
    page["orders"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["client_order_id"].as_str().unwrap().to_owned())
        .collect()
}

async fn seed(app: &TestApp) -> Vec<String> {
    let mut created = Vec::new();
    for i in 0..7 {
        let (pair, strategy) = if i % 2 == 0 {
            ("XBTUSD", "alpha")
        } else {
            ("ETHUSD", "beta")
        };
        let body = format!(
            r#"{{"pair":"{pair}","side":"buy","order_type":"market","volume":"0.0{}","strategy":"{strategy}"}}"#,
            i + 1
        );
        created.push(place(app, &format!("msg_seed_{i}"), &body).await);
    }
    let refused =
        r#"{"pair":"SOLUSD","side":"buy","order_type":"market","volume":"1","strategy":"alpha"}"#;
    created.push(place(app, "msg_seed_refused", refused).await);
    for id in &created[..7] {
        app.wait_final(id).await;
    }
    created
}

#[tokio::test]
async fn filters_return_exactly_the_matching_orders_newest_first() {
    let app = spawn_app().await;
    let created = seed(&app).await;
    let newest_first: Vec<String> = created.iter().rev().cloned().collect();

    let (status, all) = app.get_audit("/v1/orders").await;
    assert_eq!(status, 200);
    assert_eq!(ids(&all), newest_first);

    let (_, xbt) = app.get_audit("/v1/orders?pair=XBT/USD").await;
    let expected: Vec<String> = [6, 4, 2, 0].iter().map(|&i| created[i].clone()).collect();
    assert_eq!(ids(&xbt), expected);

    let (_, beta) = app
        .get_audit("/v1/orders?strategy=beta&status=placed")
        .await;
    let expected: Vec<String> = [5, 3, 1].iter().map(|&i| created[i].clone()).collect();
    assert_eq!(ids(&beta), expected);

    let (_, rejected) = app
        .get_audit("/v1/orders?status=rejected&source=hook")
        .await;
    assert_eq!(ids(&rejected), vec![created[7].clone()]);

    let (_, other_source) = app.get_audit("/v1/orders?source=tv").await;
    assert!(ids(&other_source).is_empty());

    let (_, future) = app.get_audit("/v1/orders?since=2999-01-01T00:00:00Z").await;
    assert!(ids(&future).is_empty());
    let (_, past) = app.get_audit("/v1/orders?until=2000-01-01T00:00:00Z").await;
    assert!(ids(&past).is_empty());
    let (_, window) = app
        .get_audit("/v1/orders?since=2000-01-01T00:00:00Z&until=2999-01-01T00:00:00Z")
        .await;
    assert_eq!(ids(&window).len(), 8);
}

#[tokio::test]
async fn cursor_paging_visits_every_order_once_in_order() {
    let app = spawn_app().await;
    let created = seed(&app).await;
    let mut seen = Vec::new();
    let mut path = "/v1/orders?limit=3".to_owned();
    let mut pages = 0;
    loop {
        let (status, page) = app.get_audit(&path).await;
        assert_eq!(status, 200);
        assert!(page["orders"].as_array().unwrap().len() <= 3);
        seen.extend(ids(&page));
        pages += 1;
        match page["next_cursor"].as_str() {
            Some(cursor) => path = format!("/v1/orders?limit=3&cursor={cursor}"),
            None => break,
        }
    }
    assert_eq!(pages, 3);
    let newest_first: Vec<String> = created.iter().rev().cloned().collect();
    assert_eq!(seen, newest_first);
    assert_eq!(seen.iter().collect::<HashSet<_>>().len(), 8);
}

#[tokio::test]
async fn bad_filters_are_400_naming_the_parameter() {
    let app = spawn_app().await;
    for (query, field) in [
        ("status=lost", "status"),
        ("since=yesterday", "since"),
        ("limit=0", "limit"),
        ("limit=1001", "limit"),
        ("cursor=bm9wZQ", "cursor"),
    ] {
        let (status, error) = app.get_audit(&format!("/v1/orders?{query}")).await;
        assert_eq!(status, 400, "{query}");
        assert_eq!(error["field"], field, "{query}");
    }
}

#[tokio::test]
async fn order_detail_has_events_and_unknown_ids_are_404() {
    let app = spawn_app().await;
    let created = seed(&app).await;
    let (status, order) = app.get_audit(&format!("/v1/orders/{}", created[0])).await;
    assert_eq!(status, 200);
    let events = order["events"].as_array().unwrap();
    assert!(events.len() >= 2);
    assert!(events
        .iter()
        .all(|e| e["at"].is_string() && e["cause"].is_string()));
    let (status, _) = app
        .get_audit(&format!("/v1/orders/{}", uuid::Uuid::new_v4()))
        .await;
    assert_eq!(status, 404);
    let (status, error) = app.get_audit("/v1/orders/not-a-uuid").await;
    assert_eq!(status, 400);
    assert_eq!(error["field"], "client_order_id");
}

#[tokio::test]
async fn export_streams_csv_and_ndjson_with_the_same_filters() {
    let app = spawn_app().await;
    let created = seed(&app).await;
    let get = |query: &'static str| {
        let request = app
            .client
            .get(format!("{}/v1/orders/export?{query}", app.address))
            .bearer_auth(AUDIT_TOKEN);
        async move {
            let response = request.send().await.unwrap();
            assert_eq!(response.status(), 200);
            response.text().await.unwrap()
        }
    };
    let csv = get("format=csv").await;
    let mut lines = csv.lines();
    assert!(lines
        .next()
        .unwrap()
        .starts_with("client_order_id,created_at"));
    assert_eq!(lines.count(), 8);
    let ndjson = get("format=ndjson&pair=ETHUSD").await;
    let rows: Vec<Value> = ndjson
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let expected: Vec<&str> = [5, 3, 1].iter().map(|&i| created[i].as_str()).collect();
    let got: Vec<&str> = rows
        .iter()
        .map(|r| r["client_order_id"].as_str().unwrap())
        .collect();
    assert_eq!(got, expected);
    let (status, error) = app.get_audit("/v1/orders/export?format=xml").await;
    assert_eq!(status, 400);
    assert_eq!(error["field"], "format");
}

/// Posts a signal from the `tv` token source; returns its client order ID.
async fn place_tv(app: &TestApp, body: &str) -> String {
    let response = app.post_with_headers("tv", body, &[]).await;
    assert!(
        response.status().is_success() || response.status() == 422,
        "{}",
        response.status()
    );
    let value: Value = response.json().await.unwrap();
    value["client_order_id"]
        .as_str()
        .or_else(|| value["order"]["client_order_id"].as_str())
        .unwrap()
        .to_owned()
}

fn created_at(order: &Value) -> chrono::DateTime<chrono::Utc> {
    order["created_at"].as_str().unwrap().parse().unwrap()
}

#[tokio::test]
async fn every_filter_combination_equals_a_plain_filter_of_all_orders() {
    let app = spawn_app().await;
    seed(&app).await;
    for (i, (pair, strategy)) in [
        ("XBTUSD", "alpha"),
        ("ETHUSD", "gamma"),
        ("SOLUSD", "alpha"),
    ]
    .into_iter()
    .enumerate()
    {
        let body = format!(
            r#"{{"pair":"{pair}","side":"buy","order_type":"market","volume":"0.0{}","strategy":"{strategy}","passphrase":"{PASSPHRASE}"}}"#,
            i + 1
        );
        let id = place_tv(&app, &body).await;
        app.wait_final(&id).await;
    }
    let (_, everything) = app.get_audit("/v1/orders?limit=1000").await;
    let all = everything["orders"].as_array().unwrap().clone();
    assert_eq!(all.len(), 11);
    // A window that cuts the history in three: from the 3rd order to the 9th.
    let oldest_first: Vec<&Value> = all.iter().rev().collect();
    let since = created_at(oldest_first[2]);
    let until = created_at(oldest_first[8]);
    let values = [
        ("status", "placed".to_owned()),
        ("pair", "XBTUSD".to_owned()),
        ("source", "tv".to_owned()),
        ("strategy", "alpha".to_owned()),
        ("since", since.to_rfc3339()),
        ("until", until.to_rfc3339()),
    ];
    let mut nonempty = 0;
    for mask in 0u32..64 {
        let chosen: Vec<&(&str, String)> = (0..6)
            .filter(|bit| mask & (1 << bit) != 0)
            .map(|bit| &values[bit])
            .collect();
        let expected: Vec<String> = all
            .iter()
            .filter(|order| {
                chosen.iter().all(|(key, value)| match *key {
                    "since" => created_at(order) >= since,
                    "until" => created_at(order) < until,
                    key => order[key].as_str() == Some(value.as_str()),
                })
            })
            .map(|order| order["client_order_id"].as_str().unwrap().to_owned())
            .collect();
        nonempty += usize::from(!expected.is_empty());
        let query: String = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(chosen.iter().map(|(k, v)| (*k, v.as_str())))
            .append_pair("limit", "2")
            .finish();
        // Page by two through the cursor: the pages together are the plain filter.
        let mut seen = Vec::new();
        let mut path = format!("/v1/orders?{query}");
        loop {
            let (status, page) = app.get_audit(&path).await;
            assert_eq!(status, 200, "{path}: {page}");
            seen.extend(ids(&page));
            match page["next_cursor"].as_str() {
                Some(cursor) => path = format!("/v1/orders?{query}&cursor={cursor}"),
                None => break,
            }
        }
        assert_eq!(seen, expected, "{query}");
    }
    assert!(
        nonempty > 30,
        "the seed exercises most combinations: {nonempty}"
    );
}
