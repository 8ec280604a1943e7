-- The aggregated tables the ten stats functions rebuild, with the reference's
-- names, types and defaults (spec 20/30/40), plus a tenant id. Keys that were
-- global in the reference are per tenant here; player and match ids are
-- global serials, so keys on them need no tenant.

-- On an existing Capo database these tables exist without a tenant column, and
-- CREATE TABLE IF NOT EXISTS below keeps them as they are: add the column first
-- (its single-club unique keys become per-tenant ones in 0004_per_tenant_keys.sql).
DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY[
        'aggregated_half_season_stats', 'aggregated_season_stats', 'aggregated_all_time_stats',
        'aggregated_hall_of_fame', 'aggregated_recent_performance', 'aggregated_season_honours',
        'aggregated_records', 'aggregated_personal_bests', 'aggregated_match_report',
        'aggregated_player_profile_stats', 'aggregated_season_race_data',
        'aggregated_performance_ratings'] LOOP
        IF to_regclass(t) IS NOT NULL THEN
            EXECUTE format('ALTER TABLE %I ADD COLUMN IF NOT EXISTS tenant_id uuid NOT NULL '
                           'DEFAULT %L REFERENCES tenants ON DELETE CASCADE',
                           t, '00000000-0000-0000-0000-000000000001');
        END IF;
    END LOOP;
END;
$$;

CREATE TABLE IF NOT EXISTS aggregated_half_season_stats (
    id                serial PRIMARY KEY,
    tenant_id         uuid NOT NULL DEFAULT '00000000-0000-0000-0000-000000000001'
                      REFERENCES tenants ON DELETE CASCADE,
    player_id         integer UNIQUE REFERENCES players ON DELETE CASCADE,
    games_played      integer,
    wins              integer,
    draws             integer,
    losses            integer,
    goals             integer,
    heavy_wins        integer,
    heavy_losses      integer,
    clean_sheets      integer,
    win_percentage    numeric(10,1),
    fantasy_points    integer,
    points_per_game   numeric(10,1),
    last_updated      timestamptz(6) DEFAULT now(),
    historical_blocks jsonb DEFAULT '[]'::jsonb
);

CREATE TABLE IF NOT EXISTS aggregated_season_stats (
    id                serial PRIMARY KEY,
    tenant_id         uuid NOT NULL DEFAULT '00000000-0000-0000-0000-000000000001'
                      REFERENCES tenants ON DELETE CASCADE,
    player_id         integer NOT NULL REFERENCES players ON DELETE CASCADE,
    season_start_date date NOT NULL,
    season_end_date   date NOT NULL,
    games_played      integer NOT NULL,
    wins              integer NOT NULL,
    draws             integer NOT NULL,
    losses            integer NOT NULL,
    goals             integer NOT NULL,
    heavy_wins        integer NOT NULL,
    heavy_losses      integer NOT NULL,
    clean_sheets      integer NOT NULL,
    win_percentage    numeric(10,1) NOT NULL,
    fantasy_points    numeric(10,1) NOT NULL,
    points_per_game   numeric(10,1) NOT NULL,
    last_updated      timestamptz(6) NOT NULL DEFAULT now(),
    UNIQUE (player_id, season_start_date, season_end_date)
);
CREATE INDEX IF NOT EXISTS idx_season_stats_dates
    ON aggregated_season_stats (tenant_id, season_start_date, season_end_date);

CREATE TABLE IF NOT EXISTS aggregated_all_time_stats (
    id                     serial PRIMARY KEY,
    tenant_id              uuid NOT NULL DEFAULT '00000000-0000-0000-0000-000000000001'
                           REFERENCES tenants ON DELETE CASCADE,
    player_id              integer NOT NULL UNIQUE REFERENCES players ON DELETE CASCADE,
    games_played           integer NOT NULL,
    wins                   integer NOT NULL,
    draws                  integer NOT NULL,
    losses                 integer NOT NULL,
    goals                  integer NOT NULL,
    win_percentage         numeric(10,1) NOT NULL,
    minutes_per_goal       numeric(10,1),
    heavy_wins             integer NOT NULL,
    heavy_win_percentage   numeric(10,1) NOT NULL,
    heavy_losses           integer NOT NULL,
    heavy_loss_percentage  numeric(10,1) NOT NULL,
    clean_sheets           integer NOT NULL,
    clean_sheet_percentage numeric(10,1) NOT NULL,
    fantasy_points         numeric(10,1) NOT NULL,
    points_per_game        numeric(10,1) NOT NULL,
    last_updated           timestamptz(6) NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS idx_all_time_stats_tenant ON aggregated_all_time_stats (tenant_id);

CREATE TABLE IF NOT EXISTS aggregated_hall_of_fame (
    id           serial PRIMARY KEY,
    tenant_id    uuid NOT NULL DEFAULT '00000000-0000-0000-0000-000000000001'
                 REFERENCES tenants ON DELETE CASCADE,
    category     varchar(50) NOT NULL,
    player_id    integer NOT NULL REFERENCES players ON DELETE CASCADE,
    value        numeric(10,2) NOT NULL,
    last_updated timestamptz(6) NOT NULL DEFAULT now(),
    UNIQUE (category, player_id)
);
CREATE INDEX IF NOT EXISTS idx_hall_of_fame_tenant_category ON aggregated_hall_of_fame (tenant_id, category);

CREATE TABLE IF NOT EXISTS aggregated_recent_performance (
    player_id    integer PRIMARY KEY REFERENCES players ON DELETE CASCADE,
    tenant_id    uuid NOT NULL DEFAULT '00000000-0000-0000-0000-000000000001'
                 REFERENCES tenants ON DELETE CASCADE,
    last_5_games jsonb,
    last_5_goals integer,
    last_updated timestamptz(6) DEFAULT now()
);
CREATE INDEX IF NOT EXISTS idx_recent_performance_tenant ON aggregated_recent_performance (tenant_id);

CREATE TABLE IF NOT EXISTS aggregated_season_honours (
    tenant_id      uuid NOT NULL DEFAULT '00000000-0000-0000-0000-000000000001'
                   REFERENCES tenants ON DELETE CASCADE,
    year           integer,
    season_winners jsonb,
    top_scorers    jsonb,
    last_updated   timestamptz(6) DEFAULT now()
);
CREATE UNIQUE INDEX IF NOT EXISTS idx_season_honours_year ON aggregated_season_honours (tenant_id, year);

CREATE TABLE IF NOT EXISTS aggregated_records (
    id           serial PRIMARY KEY,
    tenant_id    uuid NOT NULL DEFAULT '00000000-0000-0000-0000-000000000001'
                 REFERENCES tenants ON DELETE CASCADE,
    records      jsonb,
    last_updated timestamptz(6) DEFAULT now()
);
CREATE INDEX IF NOT EXISTS idx_records_tenant ON aggregated_records (tenant_id);

CREATE TABLE IF NOT EXISTS aggregated_personal_bests (
    match_id        integer PRIMARY KEY,
    tenant_id       uuid NOT NULL DEFAULT '00000000-0000-0000-0000-000000000001'
                    REFERENCES tenants ON DELETE CASCADE,
    broken_pbs_data jsonb NOT NULL,
    created_at      timestamptz(6) NOT NULL DEFAULT now(),
    updated_at      timestamptz(6) NOT NULL DEFAULT now(),
    CONSTRAINT fk_match FOREIGN KEY (match_id) REFERENCES matches (match_id) ON DELETE CASCADE
);

CREATE TABLE IF NOT EXISTS aggregated_match_report (
    match_id                    integer PRIMARY KEY,
    tenant_id                   uuid NOT NULL DEFAULT '00000000-0000-0000-0000-000000000001'
                                REFERENCES tenants ON DELETE CASCADE,
    match_date                  timestamptz(6) NOT NULL,
    team_a_score                integer NOT NULL,
    team_b_score                integer NOT NULL,
    team_a_players              jsonb NOT NULL DEFAULT '[]'::jsonb,
    team_b_players              jsonb NOT NULL DEFAULT '[]'::jsonb,
    team_a_scorers              text,
    team_b_scorers              text,
    game_milestones             jsonb,
    goal_milestones             jsonb,
    config_values               jsonb,
    last_updated                timestamptz(6) NOT NULL DEFAULT now(),
    half_season_goal_leaders    jsonb,
    half_season_fantasy_leaders jsonb,
    season_goal_leaders         jsonb,
    season_fantasy_leaders      jsonb,
    on_fire_player_id           integer,
    grim_reaper_player_id       integer,
    feat_breaking_data          jsonb NOT NULL DEFAULT '[]'::jsonb,
    streaks                     jsonb DEFAULT '[]'::jsonb,
    goal_streaks                jsonb DEFAULT '[]'::jsonb
);
CREATE INDEX IF NOT EXISTS idx_match_report_tenant ON aggregated_match_report (tenant_id);
CREATE INDEX IF NOT EXISTS idx_match_report_feats ON aggregated_match_report USING gin (feat_breaking_data);

CREATE TABLE IF NOT EXISTS aggregated_player_profile_stats (
    player_id               integer PRIMARY KEY REFERENCES players ON DELETE CASCADE,
    tenant_id               uuid NOT NULL DEFAULT '00000000-0000-0000-0000-000000000001'
                            REFERENCES tenants ON DELETE CASCADE,
    name                    text,
    games_played            integer DEFAULT 0,
    fantasy_points          integer DEFAULT 0,
    most_game_goals         integer,
    most_game_goals_date    text,
    most_season_goals       integer,
    most_season_goals_year  text,
    win_streak              integer DEFAULT 0,
    win_streak_dates        text,
    losing_streak           integer DEFAULT 0,
    losing_streak_dates     text,
    undefeated_streak       integer DEFAULT 0,
    undefeated_streak_dates text,
    winless_streak          integer DEFAULT 0,
    winless_streak_dates    text,
    attendance_streak       integer DEFAULT 0,
    selected_club           jsonb,
    yearly_stats            jsonb DEFAULT '[]'::jsonb,
    attendance_streak_dates text,
    scoring_streak          integer DEFAULT 0,
    scoring_streak_dates    text,
    teammate_chemistry_all  json DEFAULT '[]'::json,
    last_updated            timestamptz(6) NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS idx_player_profile_stats_tenant ON aggregated_player_profile_stats (tenant_id);

CREATE TABLE IF NOT EXISTS aggregated_season_race_data (
    race_data_id serial PRIMARY KEY,
    tenant_id    uuid NOT NULL DEFAULT '00000000-0000-0000-0000-000000000001'
                 REFERENCES tenants ON DELETE CASCADE,
    season_year  integer NOT NULL,
    player_data  jsonb NOT NULL,
    last_updated timestamptz(6) NOT NULL DEFAULT now(),
    period_type  varchar(20) NOT NULL DEFAULT 'whole_season'
);
CREATE UNIQUE INDEX IF NOT EXISTS idx_season_race_data_year_period
    ON aggregated_season_race_data (tenant_id, season_year, period_type);

CREATE TABLE IF NOT EXISTS aggregated_performance_ratings (
    player_id                integer PRIMARY KEY REFERENCES players ON DELETE CASCADE,
    tenant_id                uuid NOT NULL DEFAULT '00000000-0000-0000-0000-000000000001'
                             REFERENCES tenants ON DELETE CASCADE,
    power_rating             numeric(10,3) NOT NULL,
    goal_threat              numeric(10,3) NOT NULL,
    participation            numeric(5,1) NOT NULL,
    weighted_played          numeric(10,3) NOT NULL,
    weighted_available       numeric(10,3) NOT NULL,
    is_qualified             boolean NOT NULL,
    power_percentile         numeric(5,1) DEFAULT 50,
    goal_percentile          numeric(5,1) DEFAULT 50,
    participation_percentile numeric(5,1) DEFAULT 50,
    first_match_date         date,
    updated_at               timestamptz(6) DEFAULT now()
);
CREATE INDEX IF NOT EXISTS idx_performance_ratings_power
    ON aggregated_performance_ratings (power_rating DESC);
CREATE INDEX IF NOT EXISTS idx_performance_ratings_qualified
    ON aggregated_performance_ratings (is_qualified, power_rating DESC);
CREATE INDEX IF NOT EXISTS idx_performance_ratings_tenant ON aggregated_performance_ratings (tenant_id);

-- Remove one tenant's league (inputs and aggregated rows), e.g. before a
-- re-import. Callers run it inside their own transaction.
CREATE OR REPLACE FUNCTION capo_delete_tenant_league(target_tenant_id uuid) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM aggregated_half_season_stats WHERE tenant_id = target_tenant_id;
    DELETE FROM aggregated_season_stats WHERE tenant_id = target_tenant_id;
    DELETE FROM aggregated_all_time_stats WHERE tenant_id = target_tenant_id;
    DELETE FROM aggregated_hall_of_fame WHERE tenant_id = target_tenant_id;
    DELETE FROM aggregated_recent_performance WHERE tenant_id = target_tenant_id;
    DELETE FROM aggregated_season_honours WHERE tenant_id = target_tenant_id;
    DELETE FROM aggregated_records WHERE tenant_id = target_tenant_id;
    DELETE FROM aggregated_personal_bests WHERE tenant_id = target_tenant_id;
    DELETE FROM aggregated_match_report WHERE tenant_id = target_tenant_id;
    DELETE FROM aggregated_player_profile_stats WHERE tenant_id = target_tenant_id;
    DELETE FROM aggregated_season_race_data WHERE tenant_id = target_tenant_id;
    DELETE FROM aggregated_performance_ratings WHERE tenant_id = target_tenant_id;
    DELETE FROM cache_metadata WHERE tenant_id = target_tenant_id;
    DELETE FROM app_config WHERE tenant_id = target_tenant_id;
    DELETE FROM player_matches WHERE tenant_id = target_tenant_id;
    DELETE FROM matches WHERE tenant_id = target_tenant_id;
    DELETE FROM players WHERE tenant_id = target_tenant_id;
END;
$$;
