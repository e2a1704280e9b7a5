/**
 * The first schema. Objects are stored once, as the JSON text the server wrote (key order kept);
 * columns exist only for what queries need. Keys and names use the "C" collation so ORDER BY key is
 * byte order, the order every list and continue token follows.
 */
export const initial = `
CREATE SEQUENCE report_rv_seq AS bigint;

CREATE TABLE report_objects (
  cluster   text COLLATE "C" NOT NULL,
  resource  text COLLATE "C" NOT NULL, -- "group/resource"
  key       text COLLATE "C" NOT NULL, -- "namespace/name", or "name" for cluster-scoped kinds
  namespace text COLLATE "C" NOT NULL,
  name      text COLLATE "C" NOT NULL,
  labels    jsonb NOT NULL,
  rv        bigint NOT NULL,
  data      text NOT NULL,
  PRIMARY KEY (cluster, resource, key)
);
CREATE INDEX report_objects_namespace ON report_objects (cluster, resource, namespace, key);
CREATE INDEX report_objects_labels ON report_objects USING gin (labels);

-- One row per change, id = the resource version it created. Rows of kind 'G' fill ids that a
-- rolled-back transaction consumed, so that readers can tell a hole from a commit still in flight.
CREATE TABLE report_changelog (
  id         bigint PRIMARY KEY,
  cluster    text COLLATE "C" NOT NULL,
  resource   text COLLATE "C" NOT NULL,
  namespace  text COLLATE "C" NOT NULL,
  name       text COLLATE "C" NOT NULL,
  kind       "char" NOT NULL, -- A added, M modified, D deleted, G gap fill
  data       text,            -- the object after the change (before it, for D)
  prev_data  text,            -- the object before a modification
  prev_rv    bigint,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX report_changelog_resource ON report_changelog (cluster, resource, id);

-- Everything at or below this id has been pruned from the changelog.
CREATE TABLE report_compaction (
  only_row boolean PRIMARY KEY DEFAULT true CHECK (only_row),
  revision bigint NOT NULL
);
INSERT INTO report_compaction (revision) VALUES (0);

-- Resource version 1 is taken by a filler so that no list ever answers "0" (which means "any").
SELECT setval('report_rv_seq', 1);
INSERT INTO report_changelog (id, cluster, resource, namespace, name, kind) VALUES (1, '', '', '', '', 'G');
`;
