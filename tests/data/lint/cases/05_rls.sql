ALTER TABLE lc.orders ENABLE ROW LEVEL SECURITY;                     -- pass: PGR-LINT-014
CREATE POLICY all_rows ON lc.orders USING (true);                    -- expect: PGR-LINT-013
CREATE POLICY own_rows ON lc.orders USING (id > 0);                  -- pass: PGR-LINT-013
CREATE POLICY ins ON lc.orders FOR INSERT WITH CHECK (true);         -- expect: PGR-LINT-013
ALTER TABLE lc.orders DISABLE ROW LEVEL SECURITY;                    -- expect: PGR-LINT-014
ALTER TABLE lc.orders ENABLE ROW LEVEL SECURITY;
CREATE POLICY live_only ON lc.orders AS RESTRICTIVE USING (id > 0);
DROP POLICY live_only ON lc.orders;                                  -- expect: PGR-LINT-016
DROP POLICY own_rows ON lc.orders;                                   -- pass: PGR-LINT-016
DROP POLICY all_rows ON lc.orders;                                   -- expect: PGR-LINT-016
DROP POLICY IF EXISTS legacy_tenant ON lc.orders;
DROP POLICY IF EXISTS legacy_tenant ON lc.archive;                   -- expect: PGR-LINT-016
