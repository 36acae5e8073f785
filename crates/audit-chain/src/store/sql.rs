//! What the SQLite and PostgreSQL stores share: the query builder and the store body.

use super::{ActionFilter, Order, Query};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dialect {
    #[cfg_attr(not(feature = "sqlite"), allow(dead_code))]
    Sqlite,
    #[cfg_attr(not(feature = "postgres"), allow(dead_code))]
    Postgres,
}

/// A value bound to a placeholder.
#[derive(Debug, Clone)]
pub(crate) enum Bind {
    Text(String),
    Int(i64),
}

/// SQL text assembled only from fixed fragments and numbered placeholders; every value
/// is bound, never formatted in.
#[derive(Debug)]
pub(crate) struct Built {
    pub(crate) sql: String,
    pub(crate) binds: Vec<Bind>,
}

impl Built {
    fn placeholder(&mut self, dialect: Dialect, bind: Bind) -> String {
        self.binds.push(bind);
        match dialect {
            Dialect::Sqlite => format!("?{}", self.binds.len()),
            Dialect::Postgres => format!("${}", self.binds.len()),
        }
    }
}

fn micros(t: crate::entry::Timestamp) -> Bind {
    Bind::Int(t.unix_micros())
}

/// `SELECT leaf ...` for a query, newest or oldest first, one row more than the page so
/// the caller knows whether another page follows.
pub(crate) fn select(query: &Query, dialect: Dialect) -> Built {
    let mut b = Built {
        sql: String::from("SELECT leaf FROM audit_entries WHERE tenant = "),
        binds: Vec::new(),
    };
    let p = b.placeholder(dialect, Bind::Text(query.tenant.as_str().to_owned()));
    b.sql.push_str(&p);
    if let Some(actor) = &query.actor {
        let p = b.placeholder(dialect, Bind::Text(actor.clone()));
        b.sql.push_str(&format!(" AND actor = {p}"));
    }
    match &query.action {
        None => {}
        Some(ActionFilter::Exact(code)) => {
            let p = b.placeholder(dialect, Bind::Text(code.clone()));
            b.sql.push_str(&format!(" AND action = {p}"));
        }
        Some(ActionFilter::Prefix(prefix)) => {
            // `prefix` itself, or anything in [prefix + ".", prefix + "/"): byte order,
            // which both schemas use for this column.
            let exact = b.placeholder(dialect, Bind::Text(prefix.clone()));
            let low = b.placeholder(dialect, Bind::Text(format!("{prefix}.")));
            let high = b.placeholder(dialect, Bind::Text(format!("{prefix}/")));
            b.sql.push_str(&format!(
                " AND (action = {exact} OR (action >= {low} AND action < {high}))"
            ));
        }
    }
    if let Some(since) = query.since {
        let p = b.placeholder(dialect, micros(since));
        b.sql.push_str(&format!(" AND recorded_at >= {p}"));
    }
    if let Some(until) = query.until {
        let p = b.placeholder(dialect, micros(until));
        b.sql.push_str(&format!(" AND recorded_at < {p}"));
    }
    let direction = match query.order {
        Order::NewestFirst => "DESC",
        Order::OldestFirst => "ASC",
    };
    if let Some(cursor) = query.after {
        let index = i64::try_from(cursor.0).unwrap_or(i64::MAX);
        let p = b.placeholder(dialect, Bind::Int(index));
        let op = if query.order == Order::NewestFirst {
            "<"
        } else {
            ">"
        };
        b.sql.push_str(&format!(" AND idx {op} {p}"));
    }
    // Times never decrease along a tenant's log, so (recorded_at, idx) order is log
    // order, and the (tenant, [actor,] recorded_at, idx) indexes serve it directly.
    b.sql.push_str(&format!(
        " ORDER BY recorded_at {direction}, idx {direction} LIMIT {}",
        u64::from(query.limit) + 1
    ));
    b
}

/// Defines a SQL store type over one sqlx database: the `Store` impl is the same for
/// SQLite and PostgreSQL apart from the dialect.
macro_rules! sql_store {
    ($store:ident, $db:ty, $pool:ty, $dialect:expr) => {
        impl $store {
            fn map_err(err: sqlx::Error) -> Error {
                match &err {
                    sqlx::Error::Database(db) if db.is_unique_violation() => Error::Conflict,
                    _ => Error::Store(err.to_string()),
                }
            }

            fn bind_all<'q>(
                mut query: sqlx::query::Query<'q, $db, <$db as sqlx::Database>::Arguments>,
                binds: &[$crate::store::sql::Bind],
            ) -> sqlx::query::Query<'q, $db, <$db as sqlx::Database>::Arguments> {
                for bind in binds {
                    query = match bind {
                        $crate::store::sql::Bind::Text(text) => query.bind(text.clone()),
                        $crate::store::sql::Bind::Int(int) => query.bind(*int),
                    };
                }
                query
            }

            /// The pool.
            pub fn pool(&self) -> &$pool {
                &self.pool
            }
        }

        fn to_i64(value: u64) -> Result<i64, Error> {
            i64::try_from(value).map_err(|_| Error::input("index beyond the SQL integer range"))
        }

        impl Store for $store {
            async fn append(&self, tenant: &TenantId, records: &[Record]) -> Result<(), Error> {
                let Some(first) = records.first().map(|r| r.entry().index()) else {
                    return Ok(());
                };
                let mut tx = self.begin_append(tenant).await?;
                let next: i64 = sqlx::query_scalar(
                    "SELECT COALESCE(MAX(idx) + 1, 0) FROM audit_entries WHERE tenant = $1",
                )
                .bind(tenant.as_str())
                .fetch_one(&mut *tx)
                .await
                .map_err(Self::map_err)?;
                if next != to_i64(first)? {
                    return Err(Error::Conflict);
                }
                for (record, index) in records.iter().zip(first..) {
                    let entry = record.entry();
                    if entry.index() != index || entry.event().tenant_id() != tenant {
                        return Err(Error::Conflict);
                    }
                    sqlx::query(
                        "INSERT INTO audit_entries (tenant, idx, recorded_at, actor, action, leaf) \
                         VALUES ($1, $2, $3, $4, $5, $6)",
                    )
                    .bind(tenant.as_str())
                    .bind(to_i64(index)?)
                    .bind(entry.recorded_at().unix_micros())
                    .bind(entry.event().actor_name())
                    .bind(entry.event().action().code())
                    .bind(record.leaf_bytes())
                    .execute(&mut *tx)
                    .await
                    .map_err(Self::map_err)?;
                }
                tx.commit().await.map_err(Self::map_err)
            }

            async fn sync(&self, _tenant: &TenantId) -> Result<(), Error> {
                // Each append is a committed transaction: durable already.
                Ok(())
            }

            async fn read(
                &self,
                tenant: &TenantId,
                from: u64,
                max: usize,
            ) -> Result<Vec<Vec<u8>>, Error> {
                let Ok(from) = i64::try_from(from) else {
                    return Ok(Vec::new());
                };
                let rows: Vec<(i64, Vec<u8>)> = sqlx::query_as(
                    "SELECT idx, leaf FROM audit_entries WHERE tenant = $1 AND idx >= $2 \
                     ORDER BY idx LIMIT $3",
                )
                .bind(tenant.as_str())
                .bind(from)
                .bind(i64::try_from(max).unwrap_or(i64::MAX))
                .fetch_all(&self.pool)
                .await
                .map_err(Self::map_err)?;
                let mut leaves = Vec::with_capacity(rows.len());
                for (expected, (idx, leaf)) in (from..).zip(rows) {
                    if idx != expected {
                        return Err(Error::verification(format!(
                            "entry {expected} is missing from the table"
                        )));
                    }
                    leaves.push(leaf);
                }
                Ok(leaves)
            }

            async fn put_checkpoint(
                &self,
                tenant: &TenantId,
                size: u64,
                note: &str,
            ) -> Result<(), Error> {
                sqlx::query(
                    "INSERT INTO audit_checkpoints (tenant, size, note) VALUES ($1, $2, $3)",
                )
                .bind(tenant.as_str())
                .bind(to_i64(size)?)
                .bind(note)
                .execute(&self.pool)
                .await
                .map_err(Self::map_err)?;
                Ok(())
            }

            async fn checkpoints(&self, tenant: &TenantId) -> Result<Vec<String>, Error> {
                sqlx::query_scalar(
                    "SELECT note FROM audit_checkpoints WHERE tenant = $1 ORDER BY id",
                )
                .bind(tenant.as_str())
                .fetch_all(&self.pool)
                .await
                .map_err(Self::map_err)
            }

            async fn tenants(&self) -> Result<Vec<TenantId>, Error> {
                let names: Vec<String> = sqlx::query_scalar(
                    "SELECT tenant FROM audit_entries GROUP BY tenant \
                     UNION SELECT tenant FROM audit_checkpoints GROUP BY tenant ORDER BY 1",
                )
                .fetch_all(&self.pool)
                .await
                .map_err(Self::map_err)?;
                names.into_iter().map(TenantId::new).collect()
            }

            async fn query(&self, query: &Query) -> Result<Page, Error> {
                let built = $crate::store::sql::select(query, $dialect);
                let leaves: Vec<Vec<u8>> =
                    Self::bind_all(sqlx::query(sqlx::AssertSqlSafe(built.sql)), &built.binds)
                        .fetch_all(&self.pool)
                        .await
                        .map_err(Self::map_err)?
                        .into_iter()
                        .map(|row| sqlx::Row::try_get::<Vec<u8>, _>(&row, 0))
                        .collect::<Result<_, _>>()
                        .map_err(Self::map_err)?;
                let more = leaves.len() > query.limit as usize;
                let entries = leaves
                    .iter()
                    .take(query.limit as usize)
                    .map(|leaf| {
                        // The columns the rows were found by sit beside the leaf, outside
                        // the tree: an entry whose leaf does not match the query was found
                        // by an edited column, and the page would be a lie.
                        let entry = Entry::from_leaf_bytes(leaf)?;
                        if query.matches(&entry) {
                            Ok(entry)
                        } else {
                            Err(Error::verification(format!(
                                "entry {} of {} does not say what its columns say",
                                entry.index(),
                                query.tenant
                            )))
                        }
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                Ok(Page::new(entries, more))
            }
        }
    };
}

pub(crate) use sql_store;
