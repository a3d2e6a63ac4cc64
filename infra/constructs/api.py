"""The HTTP API: every route of the contract, Cognito JWTs on all but the public ones."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import jsii
from aws_cdk import RemovalPolicy, Validations
from aws_cdk import aws_apigatewayv2 as apigwv2
from aws_cdk import aws_apigatewayv2_authorizers as authorizers
from aws_cdk import aws_apigatewayv2_integrations as integrations
from aws_cdk import aws_cognito as cognito
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk.aws_apigateway import AccessLogFormat
from constructs import Construct

from infra.constructs.catalogue import FUNCTIONS_BY_KEY
from infra.constructs.functions import LOG_RETENTION
from infra.constructs.nag import ack


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    function: str  # key of the platform function (docs/design.md)
    public: bool = False  # no JWT: webhooks verify signatures, forms are anonymous

    @property
    def key(self) -> str:
        return f"{self.method} {self.path}"


# The HTTP API table of CONTRACT.md plus the ops routes of intake (/deliveries*); the /_local
# routes are twin-only and not deployed.
ROUTES: tuple[Route, ...] = (
    Route("POST", "/webhooks/{tenant}/{channel}", "webhooks-api", public=True),
    Route("GET", "/webhooks/{tenant}/{channel}", "webhooks-api", public=True),
    Route("POST", "/forms/{tenant}/{channel}", "webhooks-api", public=True),
    Route("POST", "/tickets", "ticket-api"),
    Route("GET", "/tickets", "ticket-api"),
    Route("GET", "/tickets/{id}", "ticket-api"),
    Route("POST", "/tickets/{id}/actions", "ticket-api"),
    Route("POST", "/tickets/{id}/cancel", "ticket-api"),
    Route("POST", "/tickets/{id}/retry", "ticket-api"),
    Route("POST", "/tickets/{id}/reassign", "ticket-api"),
    Route("PATCH", "/tickets/{id}/fields", "ticket-api"),
    Route("GET", "/tickets/{id}/history", "ticket-api"),
    Route("GET", "/technicians", "dispatch-api"),
    Route("PUT", "/technicians/{id}", "dispatch-api"),
    Route("GET", "/technicians/{id}/earnings", "settlement-api"),
    Route("GET", "/staff/{id}/earnings", "settlement-api"),
    Route("GET", "/reports/revenue", "settlement-api"),
    Route("GET", "/customers", "ticket-api"),
    Route("GET", "/customers/{id}", "ticket-api"),
    Route("GET", "/customers/{id}/timeline", "ticket-api"),
    Route("GET", "/opportunities", "ticket-api"),
    Route("GET", "/opportunities/{id}", "ticket-api"),
    Route("POST", "/opportunities/{id}/actions", "ticket-api"),
    Route("GET", "/reports/pipeline", "ticket-api"),
    Route("GET", "/tenant", "ticket-api"),
    Route("GET", "/openapi.json", "ticket-api", public=True),
    # ops on intake (dispatcher or admin; the function checks the roles)
    Route("GET", "/deliveries", "webhooks-ops"),
    Route("GET", "/deliveries/{channel}/{delivery_id}", "webhooks-ops"),
    Route("POST", "/deliveries/{channel}/{delivery_id}/replay", "webhooks-ops"),
    Route("POST", "/deliveries/redrive", "webhooks-ops"),
)

THROTTLE_RATE = 200  # requests per second, steady
THROTTLE_BURST = 400

_ACCESS_LOG = AccessLogFormat.custom(
    '{"requestId":"$context.requestId","ip":"$context.identity.sourceIp",'
    '"requestTime":"$context.requestTime","routeKey":"$context.routeKey","status":"$context.status",'
    '"responseLength":"$context.responseLength","latency":"$context.responseLatency",'
    '"integrationError":"$context.integrationErrorMessage","authorizerError":"$context.authorizer.error"}'
)


@jsii.implements(apigwv2.IAccessLogSettings)
class _AccessLogs:
    """Access logs of the stage: one JSON line per request."""

    def __init__(self, destination: apigwv2.IAccessLogDestination) -> None:
        self._destination = destination

    @property
    def destination(self) -> apigwv2.IAccessLogDestination:
        return self._destination

    @property
    def format(self) -> AccessLogFormat:
        return _ACCESS_LOG


class Api(Construct):
    """HTTP API, Cognito user pool + app client, JWT authorizer, access logs, throttling."""

    def __init__(
        self, scope: Construct, construct_id: str, *, functions: Mapping[str, lambda_.IFunction]
    ) -> None:
        super().__init__(scope, construct_id)
        self.user_pool = cognito.UserPool(
            self,
            "Users",
            self_sign_up_enabled=False,
            sign_in_aliases=cognito.SignInAliases(username=True, email=True),
            custom_attributes={
                "tenant": cognito.StringAttribute(min_len=3, max_len=32, mutable=False),
                # the person's id in the tenant file (u-lin, t-wang): the API's caller id
                "user": cognito.StringAttribute(min_len=1, max_len=64, mutable=False),
            },
            password_policy=cognito.PasswordPolicy(
                min_length=12,
                require_digits=True,
                require_lowercase=True,
                require_uppercase=True,
                require_symbols=True,
            ),
            mfa=cognito.Mfa.OPTIONAL,
            mfa_second_factor=cognito.MfaSecondFactor(otp=True, sms=False),
            account_recovery=cognito.AccountRecovery.EMAIL_ONLY,
            removal_policy=RemovalPolicy.RETAIN,
        )
        self.client = self.user_pool.add_client(
            "WebClient",
            auth_flows=cognito.AuthFlow(user_srp=True),
            generate_secret=False,
            prevent_user_existence_errors=True,
        )
        Validations.of(self.user_pool).acknowledge(
            ack(
                "AwsSolutions-COG2",
                "MFA (TOTP) is offered, not forced: whether a tenant requires it is decided in a later issue",
            ),
            ack(
                "AwsSolutions-COG8",
                "Essentials plan: threat protection (Plus) is priced per active user; a later issue decides",
            ),
        )
        self.authorizer = authorizers.HttpUserPoolAuthorizer(
            "Jwt", self.user_pool, user_pool_clients=[self.client]
        )

        self.http_api = apigwv2.HttpApi(
            self, "Http", api_name="scrm", description="scrm work orders", create_default_stage=False
        )
        self.access_logs = logs.LogGroup(self, "AccessLogs", retention=LOG_RETENTION)
        self.stage = apigwv2.HttpStage(
            self,
            "DefaultStage",
            http_api=self.http_api,
            auto_deploy=True,
            throttle=apigwv2.ThrottleSettings(rate_limit=THROTTLE_RATE, burst_limit=THROTTLE_BURST),
            access_log_settings=_AccessLogs(apigwv2.LogGroupLogDestination(self.access_logs)),
        )

        integrations_by_function: dict[str, integrations.HttpLambdaIntegration] = {}
        self.routes: dict[str, apigwv2.HttpRoute] = {}
        for route in ROUTES:
            integration = integrations_by_function.get(route.function)
            if integration is None:
                integration = integrations.HttpLambdaIntegration(
                    f"{FUNCTIONS_BY_KEY[route.function].construct_id}Integration", functions[route.function]
                )
                integrations_by_function[route.function] = integration
            (created,) = self.http_api.add_routes(
                path=route.path,
                methods=[apigwv2.HttpMethod(route.method)],
                integration=integration,
                authorizer=apigwv2.HttpNoneAuthorizer() if route.public else self.authorizer,
            )
            self.routes[route.key] = created
            if route.public:
                Validations.of(created).acknowledge(
                    ack(
                        "AwsSolutions-APIG4",
                        "public by contract: webhooks and web forms are authenticated by the provider's "
                        "signature or are anonymous by design; /openapi.json is public documentation",
                    )
                )

        # Every request no route matches (an unknown path, a known path with another method) goes to
        # the ticket API, which answers 404 or 405 (with Allow) in the API's error shape: API Gateway's
        # own answer would be {"message": "Not Found"}.
        self.default_route = apigwv2.HttpRoute(
            self,
            "DefaultRoute",
            http_api=self.http_api,
            route_key=apigwv2.HttpRouteKey.DEFAULT,
            integration=integrations_by_function["ticket-api"],
        )
        Validations.of(self.default_route).acknowledge(
            ack(
                "AwsSolutions-APIG4",
                "the $default route only answers 404/405 in the API's error shape; it reaches no data "
                "(the ticket API's routes are all matched, with their authorizer, before it)",
            )
        )

    @property
    def url(self) -> str:
        return self.stage.url
