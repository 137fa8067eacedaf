//! Reading a deployment's or the moderator's `/metrics` in process tests: one scrape, and the
//! value of a series in it.

use daemon::http::{HttpClient, Method};
use std::time::Duration;

/// The value of the series `name` whose labels include every one of `labels`, summed over the
/// series that match (0 when none does).
pub fn value(scrape: &str, name: &str, labels: &[&str]) -> f64 {
    scrape
        .lines()
        .filter(|line| !line.starts_with('#'))
        .filter_map(|line| line.rsplit_once(' '))
        .filter(|(series, _)| {
            let bare = series.split('{').next().unwrap_or_default();
            bare == name && labels.iter().all(|l| series.contains(l))
        })
        .filter_map(|(_, number)| number.parse::<f64>().ok())
        .sum()
}

pub async fn scrape(url: &str, secret: Option<&str>) -> (u16, String) {
    let answer = HttpClient::default()
        .call(
            Method::GET,
            &format!("{url}/metrics"),
            secret,
            None,
            Duration::from_secs(10),
        )
        .await
        .expect("the scrape is answered");
    (
        answer.status,
        String::from_utf8_lossy(&answer.body).into_owned(),
    )
}
