//! Accounts, groups and grants in the database.

use crate::db::{Db, DbError, Tx, rfc3339};
use crate::on_backend;
use app::api::{AccountList, Group, User};
use app::model::{Access, Area, Effect, Grant, Rights};
use sqlx::{QueryBuilder, Row};
use std::collections::HashMap;

/// What sign-in needs of an account (no `Debug`: it holds the password's hash).
#[derive(Clone)]
pub struct Credentials {
    pub id: i64,
    pub username: String,
    pub password_hash: String,
    pub superuser: bool,
    pub disabled: bool,
}

fn access_str(access: Access) -> &'static str {
    match access {
        Access::Read => "read",
        Access::Write => "write",
    }
}

fn effect_str(effect: Effect) -> &'static str {
    match effect {
        Effect::Allow => "allow",
        Effect::Deny => "deny",
    }
}

fn grant_of(area: &str, access: &str, effect: &str) -> Option<Grant> {
    Some(Grant {
        area: Area::parse(area)?,
        access: match access {
            "read" => Access::Read,
            "write" => Access::Write,
            _ => return None,
        },
        effect: match effect {
            "allow" => Effect::Allow,
            "deny" => Effect::Deny,
            _ => return None,
        },
    })
}

pub async fn superuser_exists(db: &Db) -> Result<bool, DbError> {
    let count: i64 = on_backend!(&db.pool, pool =>
        sqlx::query_scalar("SELECT COUNT(*) FROM users WHERE superuser = $1")
            .bind(true)
            .fetch_one(pool)
            .await)?;
    Ok(count > 0)
}

/// Creates an account; `None` if the name is taken (regardless of case).
pub async fn insert_user(
    tx: &mut Tx,
    username: &str,
    password_hash: &str,
    superuser: bool,
) -> Result<Option<i64>, DbError> {
    let sql = format!(
        "INSERT INTO users (username, username_key, password_hash, superuser, created_at) \
         VALUES ($1, $2, $3, $4, {}) ON CONFLICT (username_key) DO NOTHING RETURNING id",
        tx.now_sql()
    );
    Ok(on_backend!(tx, tx => sqlx::query_scalar(&sql)
        .bind(username)
        .bind(app::model::username_key(username))
        .bind(password_hash)
        .bind(superuser)
        .fetch_optional(&mut **tx)
        .await)?)
}

pub async fn credentials(db: &Db, username: &str) -> Result<Option<Credentials>, DbError> {
    let key = app::model::username_key(username);
    Ok(on_backend!(&db.pool, pool => {
        sqlx::query(
            "SELECT id, username, password_hash, superuser, disabled FROM users WHERE username_key = $1",
        )
        .bind(&key)
        .fetch_optional(pool)
        .await?
        .map(|row| -> Result<Credentials, sqlx::Error> {
            Ok(Credentials {
                id: row.try_get(0)?,
                username: row.try_get(1)?,
                password_hash: row.try_get(2)?,
                superuser: row.try_get(3)?,
                disabled: row.try_get(4)?,
            })
        })
        .transpose()?
    }))
}

/// Every grant of an account, its own and its groups'.
pub async fn all_grants(db: &Db, user: i64) -> Result<Vec<Grant>, DbError> {
    let rows: Vec<(String, String, String)> = on_backend!(&db.pool, pool => {
        sqlx::query_as(
            "SELECT area, access, effect FROM grants WHERE user_id = $1 \
             UNION ALL SELECT g.area, g.access, g.effect FROM grants g \
             JOIN group_members m ON m.group_id = g.group_id WHERE m.user_id = $1",
        )
        .bind(user)
        .fetch_all(pool)
        .await?
    });
    Ok(rows
        .iter()
        .filter_map(|(a, b, c)| grant_of(a, b, c))
        .collect())
}

pub async fn rights(db: &Db, user: i64, superuser: bool) -> Result<Rights, DbError> {
    if superuser {
        return Ok(Rights::superuser());
    }
    Ok(Rights::from_grants(&all_grants(db, user).await?))
}

/// Every account and group, with their grants and members; `locks` gives an account's lock-out
/// end by its username key.
pub async fn list(db: &Db, locks: &HashMap<String, i64>) -> Result<AccountList, DbError> {
    type UserRow = (i64, String, bool, bool, i64, Option<i64>, i64);
    type GrantRow = (Option<i64>, Option<i64>, String, String, String);
    type Rows = (
        Vec<UserRow>,
        Vec<(i64, String, i64)>,
        Vec<(i64, i64)>,
        Vec<GrantRow>,
    );
    let (users, groups, members, grants): Rows = on_backend!(&db.pool, pool => {
        let users = sqlx::query_as(
            "SELECT id, username, superuser, disabled, created_at, last_sign_in, revision \
             FROM users ORDER BY username_key",
        )
        .fetch_all(pool)
        .await?;
        let groups = sqlx::query_as("SELECT id, name, revision FROM admin_groups ORDER BY name_key")
            .fetch_all(pool)
            .await?;
        let members = sqlx::query_as("SELECT group_id, user_id FROM group_members")
            .fetch_all(pool)
            .await?;
        let grants = sqlx::query_as(
            "SELECT user_id, group_id, area, access, effect FROM grants ORDER BY area, access",
        )
        .fetch_all(pool)
        .await?;
        (users, groups, members, grants)
    });
    let mut user_grants: HashMap<i64, Vec<Grant>> = HashMap::new();
    let mut group_grants: HashMap<i64, Vec<Grant>> = HashMap::new();
    for (user, group, area, access, effect) in &grants {
        let Some(grant) = grant_of(area, access, effect) else {
            continue;
        };
        match (user, group) {
            (Some(user), _) => user_grants.entry(*user).or_default().push(grant),
            (None, Some(group)) => group_grants.entry(*group).or_default().push(grant),
            _ => {}
        }
    }
    let now = super::now();
    let users = users
        .into_iter()
        .map(
            |(id, username, superuser, disabled, created_at, last_sign_in, revision)| {
                let groups: Vec<i64> = members
                    .iter()
                    .filter(|(_, u)| *u == id)
                    .map(|(g, _)| *g)
                    .collect();
                let own = user_grants.remove(&id).unwrap_or_default();
                let rights = if superuser {
                    Rights::superuser()
                } else {
                    let inherited = groups
                        .iter()
                        .flat_map(|g| group_grants.get(g).into_iter().flatten());
                    Rights::from_grants(own.iter().chain(inherited))
                };
                let locked_until = locks
                    .get(&app::model::username_key(&username))
                    .filter(|until| **until > now)
                    .map(|until| rfc3339(*until));
                User {
                    id,
                    username,
                    superuser,
                    disabled,
                    groups,
                    grants: own,
                    rights,
                    locked_until,
                    created_at: rfc3339(created_at),
                    last_sign_in: last_sign_in.map(rfc3339),
                    revision,
                }
            },
        )
        .collect();
    let groups = groups
        .into_iter()
        .map(|(id, name, revision)| Group {
            id,
            members: members
                .iter()
                .filter(|(g, _)| *g == id)
                .map(|(_, u)| *u)
                .collect(),
            grants: group_grants.remove(&id).unwrap_or_default(),
            name,
            revision,
        })
        .collect();
    Ok(AccountList { users, groups })
}

/// Takes the next revision of a user's or group's row if it is still `expected`: the row's
/// write lock serialises concurrent edits; `false` if someone changed it first (or it is gone).
pub async fn claim(tx: &mut Tx, table: Table, id: i64, expected: i64) -> Result<bool, DbError> {
    let sql = format!(
        "UPDATE {} SET revision = revision + 1 WHERE id = $1 AND revision = $2",
        table.name()
    );
    let updated = on_backend!(tx, tx => sqlx::query(&sql)
        .bind(id)
        .bind(expected)
        .execute(&mut **tx)
        .await?
        .rows_affected());
    Ok(updated == 1)
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Table {
    Users,
    Groups,
}

impl Table {
    fn name(self) -> &'static str {
        match self {
            Table::Users => "users",
            Table::Groups => "admin_groups",
        }
    }

    fn grant_column(self) -> &'static str {
        match self {
            Table::Users => "user_id",
            Table::Groups => "group_id",
        }
    }
}

/// Replaces the grants of a user or group.
pub async fn set_grants(
    tx: &mut Tx,
    table: Table,
    id: i64,
    grants: &[Grant],
) -> Result<(), DbError> {
    let column = table.grant_column();
    on_backend!(tx, tx => {
        sqlx::query(&format!("DELETE FROM grants WHERE {column} = $1"))
            .bind(id)
            .execute(&mut **tx)
            .await?;
        if !grants.is_empty() {
            let mut insert = QueryBuilder::new(format!(
                "INSERT INTO grants ({column}, area, access, effect) "
            ));
            insert.push_values(grants, |mut row, g| {
                row.push_bind(id)
                    .push_bind(g.area.as_str())
                    .push_bind(access_str(g.access))
                    .push_bind(effect_str(g.effect));
            });
            insert.build().execute(&mut **tx).await?;
        }
    });
    Ok(())
}

/// Replaces the memberships: of a user (`Table::Users`, its groups) or of a group (its members).
pub async fn set_members(
    tx: &mut Tx,
    table: Table,
    id: i64,
    others: &[i64],
) -> Result<(), DbError> {
    let (mine, theirs, other_table) = match table {
        Table::Users => ("user_id", "group_id", Table::Groups),
        Table::Groups => ("group_id", "user_id", Table::Users),
    };
    // the other side's rows change too (a group's members are its users' groups): their
    // revisions move, so an edit based on what they were before is refused
    let bump = format!(
        "UPDATE {} SET revision = revision + 1 WHERE id IN \
         (SELECT {theirs} FROM group_members WHERE {mine} = $1)",
        other_table.name()
    );
    on_backend!(tx, tx => {
        sqlx::query(&bump).bind(id).execute(&mut **tx).await?;
        sqlx::query(&format!("DELETE FROM group_members WHERE {mine} = $1"))
            .bind(id)
            .execute(&mut **tx)
            .await?;
        if !others.is_empty() {
            let mut insert = QueryBuilder::new(format!(
                "INSERT INTO group_members ({mine}, {theirs}) "
            ));
            insert.push_values(others, |mut row, other| {
                row.push_bind(id).push_bind(*other);
            });
            insert.build().execute(&mut **tx).await?;
        }
        sqlx::query(&bump).bind(id).execute(&mut **tx).await?;
    });
    Ok(())
}

/// The ids among `ids` that exist in `table`.
pub async fn existing(db: &Db, table: Table, ids: &[i64]) -> Result<Vec<i64>, DbError> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    Ok(on_backend!(&db.pool, pool => {
        let mut select = QueryBuilder::new(format!("SELECT id FROM {} WHERE id IN (", table.name()));
        let mut list = select.separated(", ");
        for id in ids {
            list.push_bind(*id);
        }
        select.push(")");
        select.build_query_scalar().fetch_all(pool).await?
    }))
}

pub async fn set_disabled(tx: &mut Tx, id: i64, disabled: bool) -> Result<(), DbError> {
    on_backend!(tx, tx => sqlx::query("UPDATE users SET disabled = $1 WHERE id = $2")
        .bind(disabled)
        .bind(id)
        .execute(&mut **tx)
        .await
        .map(|_| ()))?;
    Ok(())
}

pub async fn set_password(tx: &mut Tx, id: i64, hash: &str) -> Result<(), DbError> {
    on_backend!(tx, tx => sqlx::query(
        "UPDATE users SET password_hash = $1, revision = revision + 1 WHERE id = $2",
    )
    .bind(hash)
    .bind(id)
    .execute(&mut **tx)
    .await
    .map(|_| ()))?;
    Ok(())
}

pub async fn signed_in(db: &Db, id: i64) -> Result<(), DbError> {
    let sql = format!(
        "UPDATE users SET last_sign_in = {} WHERE id = $1",
        db.now_sql()
    );
    on_backend!(&db.pool, pool => sqlx::query(&sql).bind(id).execute(pool).await.map(|_| ()))?;
    Ok(())
}

/// Deletes a row of `table`; `false` if there was none.
pub async fn delete(tx: &mut Tx, table: Table, id: i64) -> Result<bool, DbError> {
    let sql = format!("DELETE FROM {} WHERE id = $1", table.name());
    let deleted = on_backend!(tx, tx => sqlx::query(&sql)
        .bind(id)
        .execute(&mut **tx)
        .await?
        .rows_affected());
    Ok(deleted == 1)
}

/// Creates a group; `None` if the name is taken.
pub async fn insert_group(tx: &mut Tx, name: &str) -> Result<Option<i64>, DbError> {
    Ok(on_backend!(tx, tx => sqlx::query_scalar(
        "INSERT INTO admin_groups (name, name_key) VALUES ($1, $2) \
         ON CONFLICT (name_key) DO NOTHING RETURNING id",
    )
    .bind(name)
    .bind(name.to_lowercase())
    .fetch_optional(&mut **tx)
    .await)?)
}
