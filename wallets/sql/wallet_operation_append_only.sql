-- Wallet operations are append-only like the entries they describe: UPDATE and DELETE raise.
CREATE TRIGGER wallet_operation_append_only BEFORE UPDATE OR DELETE ON wallets_operation
  FOR EACH ROW EXECUTE FUNCTION ledger_refuse_change();
