-- Sign-out that sticks. Admin sessions are signed cookies (web/security.py);
-- each carries the epochs that were current when it was issued: the one of
-- every session (scope '*') and the one of its browser ('browser:<id>'). A
-- session whose epochs are no longer current is refused, so "Sign out" (the
-- browser's epoch + 1) ends every session of that browser, copies of its
-- cookie included, and "Sign out everywhere" (the global epoch + 1) ends all.
-- A missing row is epoch 0. capo-worker's own table: IF NOT EXISTS, so the
-- migration runs the same on an adopted Capo database.

CREATE TABLE IF NOT EXISTS capo_admin_session_epochs (
    scope      text PRIMARY KEY,
    epoch      bigint NOT NULL DEFAULT 0,
    changed_at timestamptz NOT NULL DEFAULT now()
);

COMMENT ON TABLE capo_admin_session_epochs IS
    'Admin page sessions issued under an older epoch of their scope (''*'' or ''browser:<id>'') are signed out.';
