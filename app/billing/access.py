"""Who may see the usage and statements of an organisation."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.billing.errors import NotYourOrganisation, OrganisationNotFound
from app.people import rules as people_rules
from app.people.models import ACTIVE, Person, RoleAssignment
from app.tenants.models import Organisation

# roles that see their own school's (or district's) usage
VIEW_ROLES = frozenset(
    {
        people_rules.SCHOOL_ADMIN,
        people_rules.PRINCIPAL,
        people_rules.VICE_PRINCIPAL,
        people_rules.CLERK,
        people_rules.AUDITOR,
        people_rules.DISTRICT_ADMIN,
    }
)


def require_viewer(s: Session, *, person_id: str, organisation_id: str) -> Organisation:
    """The organisation, if ``person_id`` may see it: an operator, a viewer of that school or
    district office, or a district admin of the district the school belongs to."""
    org = s.get(Organisation, organisation_id)
    if org is None:
        raise OrganisationNotFound()
    rows = s.execute(
        select(RoleAssignment.role, RoleAssignment.organisation_id)
        .join(Person, Person.id == RoleAssignment.person_id)
        .where(RoleAssignment.person_id == person_id, Person.status == ACTIVE)
    ).all()
    for role, org_id in rows:
        if role == people_rules.OPERATOR:
            return org
        if role in VIEW_ROLES and org_id == org.id:
            return org
        if role == people_rules.DISTRICT_ADMIN and org.parent_id is not None and org_id == org.parent_id:
            return org
    raise NotYourOrganisation()
