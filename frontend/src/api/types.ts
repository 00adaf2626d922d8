/** The shapes of the Signet API (prefix /api/v1) that the PWA reads. */

export interface ApiErrorBody {
  code: string;
  status: number;
  error: string;
  message: string;
}

export interface Role {
  role: string;
  organisation_id: string;
  class_id: string | null;
  class_name: string | null;
  school_year: string | null;
}

export interface Me {
  id: string;
  display_name: string;
  username: string;
  school: { id: string; name: string } | null;
  roles: Role[];
  factors: { passkeys: number; totp: boolean };
  csrf_token?: string;
}

export interface Invitation {
  person_name: string;
  school_name: string | null;
  expires_at: string;
  methods: ('passkey' | 'totp')[];
}

export interface CreationOptions {
  publicKey: PublicKeyCredentialCreationOptionsJSON;
}

export interface RequestOptions {
  publicKey: PublicKeyCredentialRequestOptionsJSON;
}

export interface TotpEnrolment {
  enrolment_id: string;
  otpauth_uri: string;
  qr_svg: string;
}

export interface Enrolled {
  person: Me;
  recovery_codes: string[];
}

export interface SignedIn {
  person: Me;
  remaining_recovery_codes?: number;
}

export interface Passkey {
  id: string;
  name: string;
  created_at: string;
  last_used_at: string | null;
  backed_up: boolean;
}

export interface Session {
  id: string;
  created_at: string;
  last_seen_at: string;
  user_agent: string | null;
  method: string;
  current: boolean;
}

/** A transcript as the documents API and the inbox return it. */
export interface Doc {
  id: string;
  doc_type: string;
  filename: string | null;
  student_code: string | null;
  student_name: string | null;
  personal_id_masked: string | null;
  class_name: string | null;
  class_id: string | null;
  school_year: string | null;
  status: string;
  step: number;
  blocked_code: string | null;
  blocked_message: string | null;
  failure_code: string | null;
  failure_message: string | null;
  rejected_reason: string | null;
  teacher_id: string | null;
  principal_id: string | null;
  pages: number;
  signature_count: number;
  approval_id: string | null;
  updated_at: string;
  completed_at: string | null;
}

export interface ApprovalCreated {
  id: string;
  step: number;
  total: number;
  publicKey: PublicKeyCredentialRequestOptionsJSON;
  totp_allowed: boolean;
}

export interface Progress {
  id: string;
  status: string;
  step: number;
  total: number;
  pending: number;
  queued: number;
  done: number;
  failed: number;
  items: { document_id: string; status: string; failure_code: string | null; failure_message: string | null }[];
}

export interface Notice {
  id: string;
  kind: string;
  count: number;
  subject: string | null;
  url: string;
  created_at: string;
  read_at: string | null;
}

export interface Delegation {
  id: string;
  principal_id: string;
  delegate_id: string;
  starts_on: string;
  ends_on: string;
  class_ids: string[] | null;
  revoked_at: string | null;
}

export interface Person {
  id: string;
  display_name: string;
  username: string;
  status: string;
  enrolled_at: string | null;
  roles: Role[];
}

export interface SchoolClass {
  id: string;
  name: string;
  grade: number;
  school_year: string;
}

export interface FileResult {
  file: string;
  outcome: 'created' | 'duplicate' | 'refused';
  document_id: string | null;
  status: string | null;
  blocked_code: string | null;
  code: string | null;
  message: string | null;
}

export interface UploadReport {
  created: number;
  duplicates: number;
  refused: number;
  blocked: number;
  files: FileResult[];
}

export interface RosterReport {
  status: string;
  kind: string;
  rows: { row: number; status: string; name: string | null; reason?: string; reason_code?: string }[];
  counts: { accepted: number; updated: number; unchanged: number; refused: number; total: number };
}

export interface InvitationCreated {
  id: string;
  url: string;
  expires_at: string;
  qr_svg: string;
}

export interface ApiClient {
  id: string;
  client_id: string;
  name: string;
  scopes: string[];
  created_at: string;
  last_used_at: string | null;
  revoked_at: string | null;
  client_secret?: string;
}

export interface SchoolDashboard {
  tenant_id: string;
  school_name: string;
  paid_by: string | null;
  quota: {
    status: string;
    included: number;
    used: number;
    remaining: number;
    overage_allowed: boolean;
    percent_used: number;
  } | null;
  period_start: string;
  period_end: string;
  year_progress_percent: number;
  total: number;
  per_day: { day: string; count: number }[];
  per_class: { class_id: string | null; class_name: string; count: number }[];
  per_doc_type: Record<string, number>;
  cost: {
    signers: number;
    subscription_cost_vnd: number;
    cost_per_signer_vnd: number;
    reference_certificate_vnd: number;
    reference_total_vnd: number;
    saving_vnd: number;
  } | null;
}
