//! The dashboard in a real browser: Debian's headless Chromium driven over WebDriver
//! (chromedriver on 127.0.0.1), against the real service and real receivers, with
//! axe-core run on every page; and the rules a browser does not show, over plain HTTP.
//!
//! - `setup`: a new user's first hour, from sign-in to the operator's pages;
//! - `defects`: each defect found by trying the dashboard, checked in one browser;
//! - `log`: the delivery log (search, filters, paging, totals, live refresh), times in
//!   the browser's zone, copy buttons, "copy as curl" and the signature snippets;
//! - `undelivered`: held deliveries and unverified skips in the list, Health card and
//!   statistics;
//! - `replay`: the log's filter resent and missing events replayed, as a job with progress;
//! - `pages`: every page at a laptop's and a phone's width, light and dark, through
//!   axe-core, saved as screenshots;
//! - `http`: sessions, CSRF, cookies, forms that act once.
//!
//! Without `chromium` and `chromedriver` the browser tests skip, and without axe-core
//! (`npm ci --prefix crates/postbode/tests/dashboard`) the accessibility checks do,
//! except under `CI=true`, where anything missing fails.

#[path = "../common/mod.rs"]
mod common;

mod browser;
mod checks;
mod defects;
mod http;
mod log;
mod pages;
mod replay;
mod setup;
mod undelivered;
mod webdriver;
