//! Administration › Audit: every change (who, from where, what was before and after), and the
//! security log (sign-ins, lock-outs, tokens, passwords and accounts). The log and its filters
//! are in the page's address, so a filtered view can be linked and reads without JavaScript.

mod filters;
mod tables;

use crate::api::{AuditPage, AuditQuery, SecurityPage};
use crate::components::{PageSource, page_resource, with_data};
use filters::{Filters, Log, LogView};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;
use serde::{Deserialize, Serialize};
use tables::{AuditTable, SecurityTable};

/// A page of one of the logs.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
enum LogData {
    Audit(AuditPage),
    Security(SecurityPage),
}

impl LogData {
    fn next_before(&self) -> Option<i64> {
        match self {
            LogData::Audit(page) => page.next_before,
            LogData::Security(page) => page.next_before,
        }
    }
}

impl PageSource for LogData {
    type Query = (Log, AuditQuery);

    #[cfg(feature = "ssr")]
    type Backend = dyn crate::AccountsBackend;

    #[cfg(feature = "ssr")]
    fn read(
        backend: std::sync::Arc<dyn crate::AccountsBackend>,
        (log, query): (Log, AuditQuery),
    ) -> crate::BoxFuture<Result<Self, String>> {
        Box::pin(async move {
            Ok(match log {
                Log::Audit => LogData::Audit(backend.audit(query).await?),
                Log::Security => LogData::Security(backend.security_log(query).await?),
            })
        })
    }

    #[cfg(feature = "hydrate")]
    fn load(
        (log, query): (Log, AuditQuery),
    ) -> impl Future<Output = Result<Self, String>> + 'static {
        use crate::client::accounts::{get_audit, get_security_log};
        async move {
            Ok(match log {
                Log::Audit => LogData::Audit(get_audit(&query).await?),
                Log::Security => LogData::Security(get_security_log(&query).await?),
            })
        }
    }
}

#[component]
pub fn AuditPage() -> impl IntoView {
    let params = use_query_map();
    let view = Memo::new(move |_| params.with(|p| LogView::parse(|key| p.get(key))));
    let data = page_resource::<LogData>(move || view.with(|v| (v.log, v.query())));
    let log = Memo::new(move |_| view.with(|v| v.log));
    view! {
        <Title text="Audit log" />
        <nav aria-label="Breadcrumb" class="breadcrumb">
            <ol>
                <li>"Administration"</li>
                <li aria-current="page">"Audit"</li>
            </ol>
        </nav>
        <h1>"Audit and security logs"</h1>
        <LogTabs view />
        {move || view! { <Filters view log=log.get() /> }}
        {with_data(
            data,
            "log",
            move |data| {
                let view = view.get_untracked();
                let older = data.next_before().map(|before| crate::url(&view.older(before).href()));
                let newest = view.before.is_some().then(|| crate::url(&view.newest().href()));
                let table = match data {
                    LogData::Audit(page) => view! { <AuditTable entries=page.entries /> }.into_any(),
                    LogData::Security(page) => {
                        view! { <SecurityTable entries=page.entries /> }.into_any()
                    }
                };
                view! {
                    <section aria-label="Entries">
                        {table}
                        <nav aria-label="Pages" class="paging">
                            {newest.map(|href| view! { <a href=href>"Newest entries"</a> })}
                            {older.map(|href| view! { <a href=href rel="next">"Older entries"</a> })}
                        </nav>
                    </section>
                }
                    .into_any()
            },
        )}
    }
}

/// The two logs, each a link that keeps the filters both have.
#[component]
fn LogTabs(view: Memo<LogView>) -> impl IntoView {
    let tab = move |log: Log, label: &'static str| {
        view! {
            <li>
                <a
                    href=move || crate::url(&view.with(|v| v.switched(log).href()))
                    class="filter"
                    aria-current=move || (view.with(|v| v.log) == log).then_some("page")
                >
                    {label}
                </a>
            </li>
        }
    };
    view! {
        <nav aria-label="Logs" class="filters">
            <ul>
                {tab(Log::Audit, "Changes")} {tab(Log::Security, "Security log")}
            </ul>
        </nav>
    }
}
