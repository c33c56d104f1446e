// lxm's schema updates. Rules: never edit an update once it has shipped; add
// the next number instead. Each update is self-contained SQL (or a function
// that only uses the Transaction it is given). Timestamps are unix time in
// nanoseconds (INTEGER); booleans are INTEGER 0/1; every table is STRICT.
#include "store/schema.hpp"

namespace lxm::store {

namespace {

// Update 1: the initial schema.
//
// Child tables (config, devices, snapshots, aliases, volumes) cascade on
// delete of their owner. instances_profiles restricts deleting a profile that
// is still applied: removing it silently from instances would change them.
// instances.image_fingerprint is a plain column, not a foreign key: an image
// may be deleted while instances made from it live on.
// projects are a name column for now (default 'default'); a projects table can
// be introduced by a later update without changing the unique keys.
constexpr std::string_view kUpdate1 = R"SQL(
CREATE TABLE config (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
) STRICT;

CREATE TABLE profiles (
    id INTEGER PRIMARY KEY,
    project TEXT NOT NULL DEFAULT 'default',
    name TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    UNIQUE (project, name)
) STRICT;
CREATE TABLE profiles_config (
    id INTEGER PRIMARY KEY,
    profile_id INTEGER NOT NULL REFERENCES profiles (id) ON DELETE CASCADE,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    UNIQUE (profile_id, key)
) STRICT;
CREATE TABLE profiles_devices (
    id INTEGER PRIMARY KEY,
    profile_id INTEGER NOT NULL REFERENCES profiles (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    type TEXT NOT NULL,
    UNIQUE (profile_id, name)
) STRICT;
CREATE TABLE profiles_devices_config (
    id INTEGER PRIMARY KEY,
    device_id INTEGER NOT NULL REFERENCES profiles_devices (id) ON DELETE CASCADE,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    UNIQUE (device_id, key)
) STRICT;

CREATE TABLE instances (
    id INTEGER PRIMARY KEY,
    project TEXT NOT NULL DEFAULT 'default',
    name TEXT NOT NULL,
    type TEXT NOT NULL DEFAULT 'container' CHECK (type IN ('container', 'virtual-machine')),
    architecture TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    ephemeral INTEGER NOT NULL DEFAULT 0 CHECK (ephemeral IN (0, 1)),
    stateful INTEGER NOT NULL DEFAULT 0 CHECK (stateful IN (0, 1)),
    status_wanted TEXT NOT NULL DEFAULT 'stopped' CHECK (status_wanted IN ('running', 'stopped')),
    created_at INTEGER NOT NULL,
    last_used_at INTEGER NOT NULL DEFAULT 0,
    image_fingerprint TEXT NOT NULL DEFAULT '',
    storage_pool TEXT NOT NULL DEFAULT '',
    idmap_base INTEGER,
    idmap_size INTEGER,
    UNIQUE (project, name),
    CHECK ((idmap_base IS NULL) = (idmap_size IS NULL))
) STRICT;
-- An allocated id range belongs to one instance (isolated maps).
CREATE UNIQUE INDEX instances_idmap_base ON instances (idmap_base) WHERE idmap_base IS NOT NULL;
CREATE TABLE instances_config (
    id INTEGER PRIMARY KEY,
    instance_id INTEGER NOT NULL REFERENCES instances (id) ON DELETE CASCADE,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    UNIQUE (instance_id, key)
) STRICT;
CREATE TABLE instances_devices (
    id INTEGER PRIMARY KEY,
    instance_id INTEGER NOT NULL REFERENCES instances (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    type TEXT NOT NULL,
    UNIQUE (instance_id, name)
) STRICT;
CREATE TABLE instances_devices_config (
    id INTEGER PRIMARY KEY,
    device_id INTEGER NOT NULL REFERENCES instances_devices (id) ON DELETE CASCADE,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    UNIQUE (device_id, key)
) STRICT;
CREATE TABLE instances_profiles (
    id INTEGER PRIMARY KEY,
    instance_id INTEGER NOT NULL REFERENCES instances (id) ON DELETE CASCADE,
    profile_id INTEGER NOT NULL REFERENCES profiles (id) ON DELETE RESTRICT,
    apply_order INTEGER NOT NULL,
    UNIQUE (instance_id, profile_id)
) STRICT;
CREATE INDEX instances_profiles_profile ON instances_profiles (profile_id);

CREATE TABLE instances_snapshots (
    id INTEGER PRIMARY KEY,
    instance_id INTEGER NOT NULL REFERENCES instances (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    created_at INTEGER NOT NULL,
    expires_at INTEGER,
    stateful INTEGER NOT NULL DEFAULT 0 CHECK (stateful IN (0, 1)),
    UNIQUE (instance_id, name)
) STRICT;
CREATE INDEX instances_snapshots_expiry ON instances_snapshots (expires_at) WHERE expires_at IS NOT NULL;
CREATE TABLE instances_snapshots_config (
    id INTEGER PRIMARY KEY,
    snapshot_id INTEGER NOT NULL REFERENCES instances_snapshots (id) ON DELETE CASCADE,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    UNIQUE (snapshot_id, key)
) STRICT;
CREATE TABLE instances_snapshots_devices (
    id INTEGER PRIMARY KEY,
    snapshot_id INTEGER NOT NULL REFERENCES instances_snapshots (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    type TEXT NOT NULL,
    UNIQUE (snapshot_id, name)
) STRICT;
CREATE TABLE instances_snapshots_devices_config (
    id INTEGER PRIMARY KEY,
    device_id INTEGER NOT NULL REFERENCES instances_snapshots_devices (id) ON DELETE CASCADE,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    UNIQUE (device_id, key)
) STRICT;

CREATE TABLE images (
    id INTEGER PRIMARY KEY,
    fingerprint TEXT NOT NULL UNIQUE,
    filename TEXT NOT NULL,
    size INTEGER NOT NULL,
    public INTEGER NOT NULL DEFAULT 0 CHECK (public IN (0, 1)),
    auto_update INTEGER NOT NULL DEFAULT 0 CHECK (auto_update IN (0, 1)),
    cached INTEGER NOT NULL DEFAULT 0 CHECK (cached IN (0, 1)),
    architecture TEXT NOT NULL,
    type TEXT NOT NULL DEFAULT 'container' CHECK (type IN ('container', 'virtual-machine')),
    created_at INTEGER NOT NULL DEFAULT 0,
    uploaded_at INTEGER NOT NULL,
    last_used_at INTEGER NOT NULL DEFAULT 0,
    expires_at INTEGER
) STRICT;
CREATE TABLE images_properties (
    id INTEGER PRIMARY KEY,
    image_id INTEGER NOT NULL REFERENCES images (id) ON DELETE CASCADE,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    UNIQUE (image_id, key)
) STRICT;
-- Where an image came from, for auto_update and cache refresh.
CREATE TABLE images_source (
    image_id INTEGER PRIMARY KEY REFERENCES images (id) ON DELETE CASCADE,
    server TEXT NOT NULL,
    protocol TEXT NOT NULL,
    certificate TEXT NOT NULL DEFAULT '',
    alias TEXT NOT NULL DEFAULT ''
) STRICT;
CREATE TABLE images_aliases (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    image_id INTEGER NOT NULL REFERENCES images (id) ON DELETE CASCADE,
    description TEXT NOT NULL DEFAULT ''
) STRICT;
CREATE INDEX images_aliases_image ON images_aliases (image_id);

CREATE TABLE networks (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    type TEXT NOT NULL DEFAULT 'bridge',
    description TEXT NOT NULL DEFAULT '',
    status TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'created', 'errored'))
) STRICT;
CREATE TABLE networks_config (
    id INTEGER PRIMARY KEY,
    network_id INTEGER NOT NULL REFERENCES networks (id) ON DELETE CASCADE,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    UNIQUE (network_id, key)
) STRICT;

CREATE TABLE storage_pools (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    driver TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    status TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'created', 'errored'))
) STRICT;
CREATE TABLE storage_pools_config (
    id INTEGER PRIMARY KEY,
    storage_pool_id INTEGER NOT NULL REFERENCES storage_pools (id) ON DELETE CASCADE,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    UNIQUE (storage_pool_id, key)
) STRICT;
CREATE TABLE storage_volumes (
    id INTEGER PRIMARY KEY,
    storage_pool_id INTEGER NOT NULL REFERENCES storage_pools (id) ON DELETE CASCADE,
    project TEXT NOT NULL DEFAULT 'default',
    name TEXT NOT NULL,
    type TEXT NOT NULL CHECK (type IN ('container', 'virtual-machine', 'image', 'custom')),
    content_type TEXT NOT NULL DEFAULT 'filesystem' CHECK (content_type IN ('filesystem', 'block')),
    description TEXT NOT NULL DEFAULT '',
    created_at INTEGER NOT NULL DEFAULT 0,
    UNIQUE (storage_pool_id, project, name, type)
) STRICT;
CREATE TABLE storage_volumes_config (
    id INTEGER PRIMARY KEY,
    storage_volume_id INTEGER NOT NULL REFERENCES storage_volumes (id) ON DELETE CASCADE,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    UNIQUE (storage_volume_id, key)
) STRICT;

CREATE TABLE certificates (
    id INTEGER PRIMARY KEY,
    fingerprint TEXT NOT NULL UNIQUE,
    type TEXT NOT NULL DEFAULT 'client' CHECK (type IN ('client', 'server', 'metrics')),
    name TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    certificate TEXT NOT NULL,
    restricted INTEGER NOT NULL DEFAULT 0 CHECK (restricted IN (0, 1))
) STRICT;
CREATE TABLE certificates_projects (
    certificate_id INTEGER NOT NULL REFERENCES certificates (id) ON DELETE CASCADE,
    project TEXT NOT NULL,
    PRIMARY KEY (certificate_id, project)
) STRICT;

-- Single-use join tokens. Only a hash of the secret is stored.
CREATE TABLE tokens (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    type TEXT NOT NULL DEFAULT 'client',
    secret_hash TEXT NOT NULL UNIQUE,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
) STRICT;

INSERT INTO profiles (project, name, description) VALUES ('default', 'default', 'Default lxm profile');
)SQL";

}  // namespace

const Schema& Schema::lxm() {
    static const Schema schema({
        sql_update(1, kUpdate1),
    });
    return schema;
}

}  // namespace lxm::store
