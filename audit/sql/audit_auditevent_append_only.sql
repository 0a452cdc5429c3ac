-- Audit events are never changed or deleted (a row trigger of a partitioned table fires for all its partitions).
CREATE TRIGGER audit_auditevent_append_only BEFORE UPDATE OR DELETE ON audit_auditevent
  FOR EACH ROW EXECUTE FUNCTION audit_refuse_change();
