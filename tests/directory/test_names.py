import pytest

from app.directory import DirectoryError, departments_in_dn, normalize_dn
from app.directory.names import split_dn


def test_a_dn_is_compared_without_case_spaces_or_escapes():
    assert normalize_dn("uid=Ann, OU=Sales ,dc=Example,dc=org") == "uid=ann,ou=sales,dc=example,dc=org"
    assert normalize_dn(r"cn=Lee\, Ann,dc=x") == normalize_dn(r"cn=Lee\2C Ann,dc=x") == "cn=lee, ann,dc=x"
    assert normalize_dn(r"ou=\E6\B3\95\E5\8A\A1\E9\83\A8,dc=x") == normalize_dn("ou=法务部,dc=x")
    assert split_dn("cn=a+uid=b,dc=x") == [("cn", "a"), ("uid", "b"), ("dc", "x")]


@pytest.mark.parametrize("text", ["", "not a dn", "cn=a,,dc=x", "=a,dc=x"])
def test_text_that_is_no_dn_is_refused(text):
    with pytest.raises(DirectoryError, match="not a distinguished name"):
        normalize_dn(text)


def test_departments_are_the_ous_below_the_base_nearest_first():
    base = "ou=people,dc=example,dc=org"
    assert departments_in_dn("uid=ann,ou=Sales,ou=Head Office,ou=people,dc=example,dc=org", base) == (
        "Sales", "Head Office")
    assert departments_in_dn("uid=ann,OU=Sales,ou=People,DC=example,dc=org", base) == ("Sales",)
    assert departments_in_dn("uid=ann,ou=people,dc=example,dc=org", base) == ()
    assert departments_in_dn(r"uid=ann,ou=R\2CD,l=Shanghai,ou=people,dc=example,dc=org", base) == ("R,D",)
    # A person's own RDN is never their department, even when it is an ou.
    assert departments_in_dn("ou=ann,ou=Sales,ou=people,dc=example,dc=org", base) == ("Sales",)
