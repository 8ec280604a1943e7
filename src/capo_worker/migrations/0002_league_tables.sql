-- The league's input tables, with the reference's names, types and defaults,
-- plus a tenant id (one database can hold several clubs). On an existing Capo
-- database the tables are kept and only the tenant column and indexes are added.

CREATE TABLE IF NOT EXISTS tenants (
    tenant_id  uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name       text NOT NULL UNIQUE,
    created_at timestamptz NOT NULL DEFAULT now()
);
INSERT INTO tenants (tenant_id, name)
VALUES ('00000000-0000-0000-0000-000000000001', 'default')
ON CONFLICT DO NOTHING;

CREATE TABLE IF NOT EXISTS players (
    player_id            serial PRIMARY KEY,
    name                 varchar(14) NOT NULL,
    join_date            date DEFAULT CURRENT_DATE,
    is_ringer            boolean NOT NULL DEFAULT false,
    is_retired           boolean DEFAULT false,
    goalscoring          smallint NOT NULL DEFAULT 3,
    defender             smallint NOT NULL DEFAULT 3,
    stamina_pace         smallint NOT NULL DEFAULT 3,
    control              smallint NOT NULL DEFAULT 3,
    teamwork             smallint NOT NULL DEFAULT 3,
    resilience           smallint DEFAULT 3,
    selected_club        jsonb,
    profile_text         text,
    profile_generated_at timestamptz
);

CREATE TABLE IF NOT EXISTS matches (
    match_id          serial PRIMARY KEY,
    match_date        date NOT NULL,
    team_a_score      integer NOT NULL,
    team_b_score      integer NOT NULL,
    team_a_own_goals  integer DEFAULT 0 CHECK (team_a_own_goals >= 0),
    team_b_own_goals  integer DEFAULT 0 CHECK (team_b_own_goals >= 0),
    created_at        timestamp(6) DEFAULT now(),
    upcoming_match_id integer
);

CREATE TABLE IF NOT EXISTS player_matches (
    player_match_id serial PRIMARY KEY,
    player_id       integer REFERENCES players (player_id),
    match_id        integer REFERENCES matches (match_id),
    team            varchar(20),
    goals           integer DEFAULT 0,
    clean_sheet     boolean DEFAULT false,
    heavy_win       boolean DEFAULT false,
    heavy_loss      boolean DEFAULT false,
    result          varchar,
    fantasy_points  integer,
    updated_at      timestamptz(6) DEFAULT now()
);

CREATE TABLE IF NOT EXISTS app_config (
    config_id          serial PRIMARY KEY,
    config_key         varchar(255) NOT NULL,
    config_value       text NOT NULL,
    config_description text,
    display_name       text,
    display_group      text,
    config_group       varchar(100),
    sort_order         integer,
    created_at         timestamptz(6) DEFAULT now(),
    updated_at         timestamptz(6) DEFAULT now()
);

CREATE TABLE IF NOT EXISTS cache_metadata (
    tenant_id        uuid NOT NULL DEFAULT '00000000-0000-0000-0000-000000000001'
                     REFERENCES tenants ON DELETE CASCADE,
    cache_key        varchar(100) NOT NULL,
    last_invalidated timestamptz(6) NOT NULL DEFAULT now(),
    dependency_type  varchar(50) NOT NULL,
    PRIMARY KEY (tenant_id, cache_key)
);

-- Tenant columns: the default tenant for single-club installs and for rows
-- the web app inserts without one. (No-ops on a fresh database, where
-- cache_metadata is created with its tenant; these adopt existing tables.)
ALTER TABLE players        ADD COLUMN IF NOT EXISTS tenant_id uuid NOT NULL
    DEFAULT '00000000-0000-0000-0000-000000000001' REFERENCES tenants ON DELETE CASCADE;
ALTER TABLE matches        ADD COLUMN IF NOT EXISTS tenant_id uuid NOT NULL
    DEFAULT '00000000-0000-0000-0000-000000000001' REFERENCES tenants ON DELETE CASCADE;
ALTER TABLE player_matches ADD COLUMN IF NOT EXISTS tenant_id uuid NOT NULL
    DEFAULT '00000000-0000-0000-0000-000000000001' REFERENCES tenants ON DELETE CASCADE;
ALTER TABLE app_config     ADD COLUMN IF NOT EXISTS tenant_id uuid NOT NULL
    DEFAULT '00000000-0000-0000-0000-000000000001' REFERENCES tenants ON DELETE CASCADE;
ALTER TABLE cache_metadata ADD COLUMN IF NOT EXISTS tenant_id uuid NOT NULL
    DEFAULT '00000000-0000-0000-0000-000000000001' REFERENCES tenants ON DELETE CASCADE;

-- The reference's unique keys, per tenant.
CREATE UNIQUE INDEX IF NOT EXISTS players_tenant_name_key ON players (tenant_id, name);
CREATE UNIQUE INDEX IF NOT EXISTS app_config_tenant_key_key ON app_config (tenant_id, config_key);
CREATE UNIQUE INDEX IF NOT EXISTS cache_metadata_tenant_key_key ON cache_metadata (tenant_id, cache_key);

-- What the stats functions need to be fast.
CREATE INDEX IF NOT EXISTS idx_players_tenant ON players (tenant_id);
CREATE INDEX IF NOT EXISTS idx_matches_tenant_date ON matches (tenant_id, match_date, match_id);
CREATE INDEX IF NOT EXISTS idx_player_matches_tenant_player ON player_matches (tenant_id, player_id);
CREATE INDEX IF NOT EXISTS idx_player_matches_match ON player_matches (match_id);
