//! Registered devices in the database: listing, registering, removing, and what the online
//! check writes after each round.

use crate::audit::{self, Actor, Record};
use crate::cluster::{Bus, Topic};
use crate::db::{Backend, Db, DbError, Tx, rfc3339};
use crate::on_backend;
use crate::workers::unix_millis;
use app::api::{
    CurrentCertificate, Device, DeviceCertificateState, DevicePage, DeviceQuery, DeviceStatus,
    StatusCounts,
};
use app::api::{DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE};
use app::model::Area;
use app::model::CheckedDevice;
use std::net::IpAddr;

const COLUMNS: &str = "id, ip, mac, hostname, os, serial, status, last_seen, status_since";

/// Devices as listed, each with its newest certificate (`devices d`, certificate columns
/// `cert_*`): the correlated subquery is one look-up in `device_certificates_by_device` per
/// listed device.
const LISTED: &str = "SELECT d.id, d.ip, d.mac, d.hostname, d.os, d.serial, d.status, \
     d.last_seen, d.status_since, \
     c.serial AS cert_serial, c.not_after AS cert_not_after, c.revoked_at AS cert_revoked_at \
     FROM devices d LEFT JOIN device_certificates c ON c.serial = (\
       SELECT n.serial FROM device_certificates n WHERE n.device_id = d.id \
       ORDER BY n.issued_at DESC, n.serial DESC LIMIT 1)";

#[derive(sqlx::FromRow)]
struct DeviceRow {
    id: i64,
    ip: String,
    mac: Option<String>,
    hostname: Option<String>,
    os: Option<String>,
    serial: Option<String>,
    status: String,
    last_seen: Option<i64>,
    status_since: Option<i64>,
}

/// A row of [`LISTED`].
#[derive(sqlx::FromRow)]
struct ListedRow {
    #[sqlx(flatten)]
    device: DeviceRow,
    cert_serial: Option<String>,
    cert_not_after: Option<i64>,
    cert_revoked_at: Option<i64>,
}

impl ListedRow {
    fn into_device(self, now: i64) -> Result<Device, DbError> {
        let row = self.device;
        let certificate = match (self.cert_serial, self.cert_not_after) {
            (Some(serial), Some(not_after)) => Some(CurrentCertificate {
                serial,
                not_after: rfc3339(not_after),
                state: DeviceCertificateState::at(self.cert_revoked_at.is_some(), not_after, now),
            }),
            _ => None,
        };
        Ok(Device {
            status: parse_status(&row.status)?,
            id: row.id,
            ip: row.ip,
            mac: row.mac,
            hostname: row.hostname,
            os: row.os,
            serial: row.serial,
            last_seen: row.last_seen.map(rfc3339),
            status_since: row.status_since.map(rfc3339),
            certificate,
        })
    }
}

fn parse_status(text: &str) -> Result<DeviceStatus, DbError> {
    DeviceStatus::parse(text).ok_or_else(|| DbError::Corrupt(format!("device status {text}")))
}

impl Details {
    /// These details with what a device reported over them: what it did not report stays.
    pub fn merged(&self, reported: &Details) -> Details {
        let pick = |new: &Option<String>, old: &Option<String>| new.clone().or_else(|| old.clone());
        Details {
            mac: pick(&reported.mac, &self.mac),
            hostname: pick(&reported.hostname, &self.hostname),
            os: pick(&reported.os, &self.os),
            serial: pick(&reported.serial, &self.serial),
        }
    }
}

/// Why a device could not be registered.
#[derive(Debug, thiserror::Error)]
pub enum RegisterError {
    #[error("a device with the address {0} is registered already")]
    AddressTaken(String),
    #[error("a device with the MAC address {0} is registered already")]
    MacTaken(String),
    #[error(transparent)]
    Db(#[from] DbError),
}

pub async fn counts(db: &Db) -> Result<StatusCounts, DbError> {
    let rows: Vec<(String, i64)> = on_backend!(&db.pool, pool => {
        sqlx::query_as("SELECT status, COUNT(*) FROM devices GROUP BY status")
            .fetch_all(pool)
            .await?
    });
    let mut counts = StatusCounts::default();
    for (status, n) in rows {
        let n = n as u64;
        match parse_status(&status)? {
            DeviceStatus::Online => counts.online = n,
            DeviceStatus::Offline => counts.offline = n,
            DeviceStatus::Unknown => counts.unknown = n,
        }
    }
    Ok(counts)
}

pub async fn page(db: &Db, query: &DeviceQuery) -> Result<DevicePage, DbError> {
    let limit = query
        .limit
        .unwrap_or(DEFAULT_PAGE_SIZE)
        .clamp(1, MAX_PAGE_SIZE);
    let offset = query.offset.unwrap_or(0).min(i64::MAX as u64);
    let status = query.status.map(DeviceStatus::as_str);
    // `$n IS NULL` keeps one statement for "any status" and "any device"
    let filter = "WHERE ($1 IS NULL OR d.status = $1) AND ($2 IS NULL OR d.id = $2)";
    let list = format!("{LISTED} {filter} ORDER BY d.id LIMIT $3 OFFSET $4");
    let count = format!("SELECT COUNT(*) FROM devices d {filter}");
    let now = unix_millis();
    let (devices, total) = on_backend!(&db.pool, pool => {
        let rows: Vec<ListedRow> = sqlx::query_as(&list)
            .bind(status)
            .bind(query.id)
            .bind(limit as i64)
            .bind(offset as i64)
            .fetch_all(pool)
            .await?;
        let devices = rows
            .into_iter()
            .map(|row| row.into_device(now))
            .collect::<Result<Vec<_>, _>>()?;
        let total: i64 = sqlx::query_scalar(&count)
            .bind(status)
            .bind(query.id)
            .fetch_one(pool)
            .await?;
        (devices, total)
    });
    Ok(DevicePage {
        devices,
        total: total as u64,
        offset,
        limit,
        counts: counts(db).await?,
    })
}

pub async fn get(db: &Db, id: i64) -> Result<Option<Device>, DbError> {
    let sql = format!("{LISTED} WHERE d.id = $1");
    let row: Option<ListedRow> = on_backend!(&db.pool, pool => {
        sqlx::query_as(&sql).bind(id).fetch_optional(pool).await?
    });
    row.map(|row| row.into_device(unix_millis())).transpose()
}

/// What a new device row holds besides its address.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Details {
    pub mac: Option<String>,
    pub hostname: Option<String>,
    pub os: Option<String>,
    pub serial: Option<String>,
}

/// Which registered device has this address or MAC.
async fn taken(tx: &mut Tx, ip: &str, mac: Option<&str>) -> Result<RegisterError, DbError> {
    let (ip_taken, mac_taken): (i64, i64) = on_backend!(tx, tx => {
        sqlx::query_as(
            "SELECT (SELECT COUNT(*) FROM devices WHERE ip = $1), \
                    (SELECT COUNT(*) FROM devices WHERE mac = $2)",
        )
        .bind(ip)
        .bind(mac)
        .fetch_one(&mut **tx)
        .await?
    });
    Ok(if ip_taken > 0 || mac_taken == 0 {
        RegisterError::AddressTaken(ip.to_owned())
    } else {
        RegisterError::MacTaken(mac.unwrap_or_default().to_owned())
    })
}

/// Inserts a device; `None` when its address or MAC is registered already. The statement writes
/// first, so on SQLite the transaction holds the write lock from its start (a read first
/// would make it fail when another writer commits in between).
async fn insert(
    tx: &mut Tx,
    ip: &str,
    details: &Details,
    now_sql: &str,
) -> Result<Option<i64>, DbError> {
    let sql = format!(
        "INSERT INTO devices (ip, mac, hostname, os, serial, created_at) \
         VALUES ($1, $2, $3, $4, $5, {now_sql}) ON CONFLICT DO NOTHING RETURNING id"
    );
    Ok(on_backend!(tx, tx => {
        sqlx::query_scalar(&sql)
            .bind(ip)
            .bind(&details.mac)
            .bind(&details.hostname)
            .bind(&details.os)
            .bind(&details.serial)
            .fetch_optional(&mut **tx)
            .await?
    }))
}

/// Registers one device by its address.
pub async fn register(
    db: &Db,
    bus: &Bus,
    device: &CheckedDevice,
    actor: &Actor,
) -> Result<Device, RegisterError> {
    let ip = device.ip.to_string();
    let details = Details {
        mac: device.mac.clone(),
        hostname: device.hostname.clone(),
        ..Details::default()
    };
    let mut tx = db.begin().await.map_err(DbError::from)?;
    let Some(id) = insert(&mut tx, &ip, &details, db.now_sql()).await? else {
        return Err(taken(&mut tx, &ip, details.mac.as_deref()).await?);
    };
    let record = Record::new(
        format!("devices.{id}"),
        serde_json::Value::Null,
        serde_json::json!({"ip": ip, "mac": details.mac, "hostname": details.hostname}),
    );
    audit::record(&mut tx, actor, Area::Devices, "register", &[record]).await?;
    bus.notify(&mut tx, Topic::Devices, None)
        .await
        .map_err(DbError::from)?;
    tx.commit().await.map_err(DbError::from)?;
    Ok(get(db, id)
        .await?
        .ok_or_else(|| DbError::Corrupt("a registered device vanished".into()))?)
}

/// Registers devices found by a scan, in one transaction; those whose MAC or address is
/// registered already are left alone and reported. Answers the new ids, each with the index of
/// its device in `found`.
pub async fn register_found(
    db: &Db,
    bus: &Bus,
    found: &[(IpAddr, Details)],
    actor: &Actor,
) -> Result<(Vec<(i64, usize)>, Vec<String>), DbError> {
    let mut tx = db.begin().await?;
    let mut added = Vec::new();
    let mut already = Vec::new();
    let mut records = Vec::new();
    for (i, (ip, details)) in found.iter().enumerate() {
        let ip = ip.to_string();
        match insert(&mut tx, &ip, details, db.now_sql()).await? {
            Some(id) => {
                added.push((id, i));
                records.push(Record::new(
                    format!("devices.{id}"),
                    serde_json::Value::Null,
                    serde_json::json!({"ip": ip, "mac": details.mac, "hostname": details.hostname}),
                ));
            }
            None => already.push(details.mac.clone().unwrap_or(ip)),
        }
    }
    audit::record(
        &mut tx,
        actor,
        Area::Devices,
        "register from scan",
        &records,
    )
    .await?;
    if !added.is_empty() {
        bus.notify(&mut tx, Topic::Devices, None).await?;
    }
    tx.commit().await?;
    Ok((added, already))
}

/// Removes a device; `false` if there was none with this id.
pub async fn remove(db: &Db, bus: &Bus, id: i64, actor: &Actor) -> Result<bool, DbError> {
    let mut tx = db.begin().await?;
    let removed: Option<(String, Option<String>, Option<String>)> = on_backend!(&mut tx, tx => {
        sqlx::query_as("DELETE FROM devices WHERE id = $1 RETURNING ip, mac, hostname")
            .bind(id)
            .fetch_optional(&mut **tx)
            .await?
    });
    let Some((ip, mac, hostname)) = removed else {
        return Ok(false);
    };
    let record = Record::new(
        format!("devices.{id}"),
        serde_json::json!({"ip": ip, "mac": mac, "hostname": hostname}),
        serde_json::Value::Null,
    );
    audit::record(&mut tx, actor, Area::Devices, "remove", &[record]).await?;
    bus.notify(&mut tx, Topic::Devices, None).await?;
    tx.commit().await?;
    Ok(true)
}

/// A device as the online check needs it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Known {
    pub id: i64,
    pub ip: IpAddr,
    pub details: Details,
    pub status: DeviceStatus,
    pub last_seen: Option<i64>,
}

/// Every registered device, in id order.
pub async fn all(db: &Db) -> Result<Vec<Known>, DbError> {
    let sql = format!("SELECT {COLUMNS} FROM devices ORDER BY id");
    let rows: Vec<DeviceRow> = on_backend!(&db.pool, pool => {
        sqlx::query_as(&sql).fetch_all(pool).await?
    });
    rows.into_iter().map(Known::try_from).collect()
}

/// The devices with these ids that exist, in id order.
pub async fn some(db: &Db, ids: &[i64]) -> Result<Vec<Known>, DbError> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let rows: Vec<DeviceRow> = match &db.pool {
        Backend::Sqlite(pool) => {
            let sql = format!(
                "SELECT {COLUMNS} FROM devices WHERE id IN (SELECT value FROM json_each($1)) ORDER BY id"
            );
            sqlx::query_as(&sql)
                .bind(serde_json::to_string(ids).expect("ids serialize"))
                .fetch_all(pool)
                .await?
        }
        Backend::Postgres(pool) => {
            let sql = format!("SELECT {COLUMNS} FROM devices WHERE id = ANY($1) ORDER BY id");
            sqlx::query_as(&sql).bind(ids).fetch_all(pool).await?
        }
    };
    rows.into_iter().map(Known::try_from).collect()
}

impl TryFrom<DeviceRow> for Known {
    type Error = DbError;

    fn try_from(row: DeviceRow) -> Result<Known, DbError> {
        Ok(Known {
            id: row.id,
            ip: row
                .ip
                .parse()
                .map_err(|_| DbError::Corrupt(format!("device address {}", row.ip)))?,
            status: parse_status(&row.status)?,
            last_seen: row.last_seen,
            details: Details {
                mac: row.mac,
                hostname: row.hostname,
                os: row.os,
                serial: row.serial,
            },
        })
    }
}

/// Which of these MAC addresses are registered.
pub async fn registered_macs(
    db: &Db,
    macs: &[String],
) -> Result<std::collections::HashSet<String>, DbError> {
    if macs.is_empty() {
        return Ok(Default::default());
    }
    let found: Vec<String> = match &db.pool {
        Backend::Sqlite(pool) => {
            sqlx::query_scalar(
                "SELECT mac FROM devices WHERE mac IN (SELECT value FROM json_each($1))",
            )
            .bind(serde_json::to_string(macs).expect("strings serialize"))
            .fetch_all(pool)
            .await?
        }
        Backend::Postgres(pool) => {
            sqlx::query_scalar("SELECT mac FROM devices WHERE mac = ANY($1)")
                .bind(macs)
                .fetch_all(pool)
                .await?
        }
    };
    Ok(found.into_iter().collect())
}

/// What one round changed, written in one transaction.
#[derive(Debug, Default)]
pub struct RoundWrite {
    /// (id, new status) for each device whose status changed.
    pub transitions: Vec<(i64, DeviceStatus)>,
    /// (id, Unix milliseconds) of each device that answered.
    pub seen: Vec<(i64, i64)>,
    /// (id, details) of devices that reported a MAC, name, OS or serial different from the
    /// stored ones.
    pub details: Vec<(i64, Details)>,
}

/// Stores what a round found. `message`: tell the other servers of a distributed installation
/// about the status changes (with the list of them, when it is short enough to carry).
pub async fn write_round(
    db: &Db,
    bus: &Bus,
    write: &RoundWrite,
    now: i64,
    message: Option<Option<String>>,
) -> Result<(), DbError> {
    if write.transitions.is_empty() && write.seen.is_empty() && write.details.is_empty() {
        return Ok(());
    }
    let mut tx = db.begin().await?;
    for status in DeviceStatus::ALL {
        let ids: Vec<i64> = write
            .transitions
            .iter()
            .filter(|(_, s)| *s == status)
            .map(|(id, _)| *id)
            .collect();
        if ids.is_empty() {
            continue;
        }
        match &mut tx {
            Backend::Sqlite(tx) => {
                sqlx::query(
                    "UPDATE devices SET status = $1, status_since = $2 \
                     WHERE id IN (SELECT value FROM json_each($3))",
                )
                .bind(status.as_str())
                .bind(now)
                .bind(serde_json::to_string(&ids).expect("ids serialize"))
                .execute(&mut **tx)
                .await?;
            }
            Backend::Postgres(tx) => {
                sqlx::query("UPDATE devices SET status = $1, status_since = $2 WHERE id = ANY($3)")
                    .bind(status.as_str())
                    .bind(now)
                    .bind(&ids)
                    .execute(&mut **tx)
                    .await?;
            }
        }
    }
    if !write.seen.is_empty() {
        let (ids, times): (Vec<i64>, Vec<i64>) = write.seen.iter().copied().unzip();
        match &mut tx {
            Backend::Sqlite(tx) => {
                sqlx::query(
                    "UPDATE devices SET last_seen = seen.value ->> 1 \
                     FROM json_each($1) AS seen WHERE devices.id = seen.value ->> 0",
                )
                .bind(serde_json::to_string(&write.seen).expect("pairs serialize"))
                .execute(&mut **tx)
                .await?;
            }
            Backend::Postgres(tx) => {
                sqlx::query(
                    "UPDATE devices SET last_seen = seen.at \
                     FROM unnest($1::BIGINT[], $2::BIGINT[]) AS seen(id, at) \
                     WHERE devices.id = seen.id",
                )
                .bind(&ids)
                .bind(&times)
                .execute(&mut **tx)
                .await?;
            }
        }
    }
    for (id, details) in &write.details {
        // A MAC another row holds (a device replaced by another at the same address, or a
        // spoofed answer) is not taken over: the rest of the details still are.
        let sql = "UPDATE devices SET \
             mac = CASE WHEN $2 IS NULL OR EXISTS (SELECT 1 FROM devices o WHERE o.mac = $2 AND o.id <> $1) \
                   THEN mac ELSE $2 END, \
             hostname = COALESCE($3, hostname), os = COALESCE($4, os), serial = COALESCE($5, serial) \
             WHERE id = $1";
        on_backend!(&mut tx, tx => {
            sqlx::query(sql)
                .bind(id)
                .bind(&details.mac)
                .bind(&details.hostname)
                .bind(&details.os)
                .bind(&details.serial)
                .execute(&mut **tx)
                .await
                .map(|_| ())?
        });
    }
    if let Some(changes) = message {
        bus.notify_with(&mut tx, Topic::DeviceStatus, None, changes.as_deref())
            .await?;
    }
    tx.commit().await?;
    Ok(())
}

/// The online check was turned off: no status is known any more.
pub async fn forget_statuses(db: &Db, now: i64) -> Result<u64, DbError> {
    Ok(on_backend!(&db.pool, pool => {
        sqlx::query(
            "UPDATE devices SET status = 'unknown', status_since = $1 WHERE status <> 'unknown'",
        )
        .bind(now)
        .execute(pool)
        .await?
        .rows_affected()
    }))
}
