-- `orders_by_created` (0001) serves no query any more: the audit listing turns time
-- ranges into id ranges through `orders_by_clock` (0005) and the risk state loads its
-- windows through `orders_accepted_by_created` (0002). Every order insert paid for it
-- with one more B-tree insert and its page in the batch's commit.
DROP INDEX IF EXISTS orders_by_created;
