"""Customer sign-up: a Cognito user pool where the email is the user name."""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_cognito as cognito

from constructs import Construct


class CustomerIdentity(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, callback_origins: tuple[str, ...]) -> None:
        super().__init__(scope, construct_id)
        self.user_pool = cognito.UserPool(
            self,
            "UserPool",
            self_sign_up_enabled=True,
            sign_in_aliases=cognito.SignInAliases(email=True),
            sign_in_case_sensitive=False,
            auto_verify=cognito.AutoVerifiedAttrs(email=True),
            keep_original=cognito.KeepOriginalAttrs(email=True),
            standard_attributes=cognito.StandardAttributes(
                email=cognito.StandardAttribute(required=True, mutable=True)
            ),
            user_verification=cognito.UserVerificationConfig(
                email_subject="Your verification code",
                email_style=cognito.VerificationEmailStyle.CODE,
            ),
            password_policy=cognito.PasswordPolicy(
                min_length=12,
                require_lowercase=True,
                require_uppercase=True,
                require_digits=True,
                require_symbols=True,
                temp_password_validity=Duration.days(3),
            ),
            mfa=cognito.Mfa.OPTIONAL,
            mfa_second_factor=cognito.MfaSecondFactor(otp=True, sms=False),
            account_recovery=cognito.AccountRecovery.EMAIL_ONLY,
            feature_plan=cognito.FeaturePlan.PLUS,
            standard_threat_protection_mode=cognito.StandardThreatProtectionMode.FULL_FUNCTION,
            deletion_protection=True,
            removal_policy=RemovalPolicy.RETAIN,
        )
        # The developer page is a public client (no secret). It signs in with USER_PASSWORD_AUTH
        # (InitiateAuth; AWS docs: "Authentication flows", https://docs.aws.amazon.com/cognito/latest/
        # developerguide/amazon-cognito-user-pools-authentication-flow-methods.html): the password goes
        # over TLS to Cognito only, never to the platform. SRP stays allowed for SDK clients.
        self.client = self.user_pool.add_client(
            "DeveloperPage",
            generate_secret=False,
            auth_flows=cognito.AuthFlow(user_srp=True, user_password=True),
            prevent_user_existence_errors=True,
            o_auth=cognito.OAuthSettings(
                flows=cognito.OAuthFlows(authorization_code_grant=True),
                scopes=[cognito.OAuthScope.OPENID, cognito.OAuthScope.EMAIL],
                callback_urls=[f"{origin}/callback" for origin in callback_origins],
                logout_urls=list(callback_origins),
            ),
            id_token_validity=Duration.hours(1),
            access_token_validity=Duration.hours(1),
            refresh_token_validity=Duration.days(30),
            enable_token_revocation=True,
            # The ID token carries what the developer API reads: `email` and `email_verified`
            # (accepting a team invitation needs a verified address). Named explicitly, so the
            # claim is a fact of the template, not of a default. AWS docs: "UserPoolClientType",
            # ReadAttributes (https://docs.aws.amazon.com/cognito-user-identity-pools/latest/
            # APIReference/API_UserPoolClientType.html): without it the client reads email_verified
            # and the standard attributes.
            read_attributes=cognito.ClientAttributes().with_standard_attributes(
                email=True, email_verified=True
            ),
        )
