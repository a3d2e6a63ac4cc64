"""The web console in AWS: one for every tenant of the cell (issue 19).

- a private bucket holds ``console/app`` (vendored packages included: ``make install``) under
  ``app/``, plus a generated ``app/config.json``: the API at ``/api`` of the same origin, sign-in
  through Cognito's hosted UI (authorization code + PKCE, public app client);
- a CloudFront distribution serves it at ``https://<distribution>/app/`` (as the local twin serves
  it at ``/app/``): the default behaviour reads the bucket through Origin Access Control (a viewer
  request function redirects ``/`` to ``/app/`` and maps ``.../`` to ``.../index.html``), compressed,
  HTTPS only, with security headers; ``/api/*`` goes to the HTTP API's ``$default`` stage uncached,
  every method, every viewer header but ``Host`` (so ``Authorization``), its ``/api`` prefix stripped
  by a viewer request function;
- the hosted UI: a Cognito prefix domain derived from the stack and its account (deterministic), and
  a public app client (no secret) whose callback and logout URL is the console's URL. The ID tokens
  it gets carry ``custom:tenant`` and ``cognito:groups`` (``shared/identity.py``); the API's JWT
  authorizer must list the client in its audience (``infra/stacks.py`` adds it).

Files are served ``Cache-Control: no-cache`` (the module files are not content-hashed: a browser
revalidates each with its ETag, so a deploy never mixes old and new modules); the deployment
invalidates ``/app/*``.
"""

from __future__ import annotations

from pathlib import Path

from aws_cdk import Annotations, Aws, DefaultStackSynthesizer, Duration, Fn, Stack, Token, Validations
from aws_cdk import aws_apigatewayv2 as apigwv2
from aws_cdk import aws_cloudfront as cloudfront
from aws_cdk import aws_cloudfront_origins as origins
from aws_cdk import aws_cognito as cognito
from aws_cdk import aws_s3_deployment as s3deploy
from constructs import Construct

from infra.constructs.buckets import private_bucket
from infra.constructs.nag import ack, cfn_id, iam_ack

CONSOLE_APP = Path(__file__).resolve().parents[2] / "console" / "app"
VENDORED = CONSOLE_APP / "vendor" / "preact-htm.js"  # written by `make install`
PREFIX = "app"  # the console's path on the distribution and its key prefix in the bucket
API_PREFIX = "api"

# Viewer request on the default behaviour: the console lives under /app/; S3 has no index documents.
_INDEX_FUNCTION = """\
function handler(event) {
  var request = event.request;
  var uri = request.uri;
  if (uri === "/" || uri === "/app") {
    return { statusCode: 302, statusDescription: "Found", headers: { location: { value: "/app/" } } };
  }
  if (uri.charAt(uri.length - 1) === "/") {
    request.uri = uri + "index.html";
  }
  return request;
}
"""

# Viewer request on /api/*: the HTTP API's routes have no /api prefix ($default stage).
_API_FUNCTION = """\
function handler(event) {
  var request = event.request;
  request.uri = request.uri.replace(/^\\/api(?=\\/|$)/, "") || "/";
  return request;
}
"""


def content_security_policy(hosted_ui: str) -> str:
    """Scripts, styles and calls of this origin only, plus the hosted UI's token endpoint (the code
    exchange); images may be data: or blob: (photo previews); no frames, plugins or foreign forms."""
    return (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
        f"connect-src 'self' {hosted_ui}; form-action 'self'; frame-ancestors 'none'; base-uri 'self'; "
        "object-src 'none'"
    )


def hosted_ui_prefix(stack: Stack) -> str:
    """The Cognito prefix domain: the stack's name and account, lowercase (unique per account and
    cell, the same on every deploy; Cognito refuses prefixes holding aws, amazon or cognito)."""
    return f"{stack.stack_name.lower()}-{Aws.ACCOUNT_ID}"


class Console(Construct):
    """Bucket + deployment of ``console/app``, CloudFront distribution, Cognito hosted UI client."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        http_api: apigwv2.IHttpApi,
        user_pool: cognito.IUserPool,
        bundle: bool = True,
    ) -> None:
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        if not VENDORED.is_file():
            text = f"{VENDORED.relative_to(CONSOLE_APP.parents[1])} is missing: run `make install`"
            if bundle:  # a deploy would ship a console that cannot start
                raise FileNotFoundError(text)
            Annotations.of(self).add_warning_v2("scrm:console-vendor", text)

        self.bucket = private_bucket(
            self,
            "Files",
            versioned=False,  # a copy of console/app at a commit: a redeploy restores any version
            lifecycle_rules=[],
            no_access_log=(
                "only CloudFront reads it (Origin Access Control) and it holds the console's public "
                "static files, no data; the API calls it makes are logged by the HTTP API's access log"
            ),
        )

        self.domain = cognito.UserPoolDomain(
            self,
            "HostedUi",
            user_pool=user_pool,
            cognito_domain=cognito.CognitoDomainOptions(domain_prefix=hosted_ui_prefix(stack)),
        )
        headers = cloudfront.ResponseHeadersPolicy(
            self,
            "Headers",
            comment="scrm console: security headers, a CSP of this origin and the hosted UI",
            security_headers_behavior=cloudfront.ResponseSecurityHeadersBehavior(
                content_security_policy=cloudfront.ResponseHeadersContentSecurityPolicy(
                    content_security_policy=content_security_policy(self.domain.base_url()), override=True
                ),
                strict_transport_security=cloudfront.ResponseHeadersStrictTransportSecurity(
                    access_control_max_age=Duration.days(365), include_subdomains=True, override=True
                ),
                content_type_options=cloudfront.ResponseHeadersContentTypeOptions(override=True),
                frame_options=cloudfront.ResponseHeadersFrameOptions(
                    frame_option=cloudfront.HeadersFrameOption.DENY, override=True
                ),
                referrer_policy=cloudfront.ResponseHeadersReferrerPolicy(
                    referrer_policy=cloudfront.HeadersReferrerPolicy.SAME_ORIGIN, override=True
                ),
            ),
        )
        index = cloudfront.Function(
            self,
            "IndexFunction",
            code=cloudfront.FunctionCode.from_inline(_INDEX_FUNCTION),
            runtime=cloudfront.FunctionRuntime.JS_2_0,
            comment="scrm console: / -> /app/, .../ -> .../index.html",
        )
        strip = cloudfront.Function(
            self,
            "ApiPrefixFunction",
            code=cloudfront.FunctionCode.from_inline(_API_FUNCTION),
            runtime=cloudfront.FunctionRuntime.JS_2_0,
            comment="scrm console: strip /api before the HTTP API",
        )
        # https://<id>.execute-api.<region>.amazonaws.com -> the host name
        api_domain = Fn.select(2, Fn.split("/", http_api.api_endpoint))
        self.distribution = cloudfront.Distribution(
            self,
            "Distribution",
            comment="scrm work orders: web console and its API",
            http_version=cloudfront.HttpVersion.HTTP2_AND_3,
            price_class=cloudfront.PriceClass.PRICE_CLASS_ALL,
            default_behavior=cloudfront.BehaviorOptions(
                origin=origins.S3BucketOrigin.with_origin_access_control(self.bucket),
                viewer_protocol_policy=cloudfront.ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
                allowed_methods=cloudfront.AllowedMethods.ALLOW_GET_HEAD,
                cache_policy=cloudfront.CachePolicy.CACHING_OPTIMIZED,
                compress=True,
                response_headers_policy=headers,
                function_associations=[
                    cloudfront.FunctionAssociation(
                        function=index, event_type=cloudfront.FunctionEventType.VIEWER_REQUEST
                    )
                ],
            ),
            additional_behaviors={
                f"/{API_PREFIX}/*": cloudfront.BehaviorOptions(
                    origin=origins.HttpOrigin(
                        api_domain, protocol_policy=cloudfront.OriginProtocolPolicy.HTTPS_ONLY
                    ),
                    viewer_protocol_policy=cloudfront.ViewerProtocolPolicy.HTTPS_ONLY,
                    allowed_methods=cloudfront.AllowedMethods.ALLOW_ALL,
                    cache_policy=cloudfront.CachePolicy.CACHING_DISABLED,
                    origin_request_policy=cloudfront.OriginRequestPolicy.ALL_VIEWER_EXCEPT_HOST_HEADER,
                    response_headers_policy=headers,
                    compress=True,
                    function_associations=[
                        cloudfront.FunctionAssociation(
                            function=strip, event_type=cloudfront.FunctionEventType.VIEWER_REQUEST
                        )
                    ],
                )
            },
        )
        Validations.of(self.distribution).acknowledge(
            ack(
                "AwsSolutions-CFR1",
                "no geo restriction: the tenants' people sign in from wherever they work; the API "
                "decides what each may see",
            ),
            ack(
                "AwsSolutions-CFR2",
                "no WAF web ACL yet: the API behind /api/* throttles and checks a Cognito JWT on every "
                "non-public route; a web ACL (priced per request, in us-east-1) is a later decision",
            ),
            ack(
                "AwsSolutions-CFR3",
                "no standard logs: they need an ACL-enabled bucket; every /api/* request is logged by "
                "the HTTP API's access log, the rest are the console's static files",
            ),
            ack(
                "AwsSolutions-CFR4",
                "the default *.cloudfront.net certificate, for which CloudFront fixes the minimum "
                "protocol (TLSv1); a custom domain with its certificate (TLSv1.2_2021) is a later issue",
            ),
        )
        self.url = f"https://{self.distribution.distribution_domain_name}/{PREFIX}/"

        self.client = cognito.UserPoolClient(
            self,
            "Client",
            user_pool=user_pool,
            user_pool_client_name="scrm-console",
            generate_secret=False,  # a browser app: public client, the code flow with PKCE
            auth_flows=cognito.AuthFlow(user_srp=True),
            o_auth=cognito.OAuthSettings(
                flows=cognito.OAuthFlows(authorization_code_grant=True),
                scopes=[cognito.OAuthScope.OPENID, cognito.OAuthScope.EMAIL, cognito.OAuthScope.PROFILE],
                callback_urls=[self.url],
                logout_urls=[self.url],
            ),
            supported_identity_providers=[cognito.UserPoolClientIdentityProvider.COGNITO],
            prevent_user_existence_errors=True,
        )

        config = {
            "apiBase": f"/{API_PREFIX}",
            "auth": {
                "mode": "cognito",
                "domain": self.domain.base_url(),
                "clientId": self.client.user_pool_client_id,
            },
        }
        self.deployment = s3deploy.BucketDeployment(
            self,
            "Deploy",
            sources=[
                s3deploy.Source.asset(str(CONSOLE_APP)),
                s3deploy.Source.json_data("config.json", config),
            ],
            destination_bucket=self.bucket,
            destination_key_prefix=f"{PREFIX}/",
            cache_control=[s3deploy.CacheControl.no_cache()],
            distribution=self.distribution,
            distribution_paths=[f"/{PREFIX}/*"],
            memory_limit=256,
        )
        self._acknowledge_deployment_handler()

    def _acknowledge_deployment_handler(self) -> None:
        """cdk-nag's findings on aws-cdk-lib's BucketDeployment handler (a singleton function of the
        stack that copies the asset into the bucket and invalidates the distribution)."""
        role = self.deployment.handler_role
        handler = role.node.scope  # Custom::CDKBucketDeployment<uuid><memory>MiB
        assert handler is not None
        files = f"Resource::<{cfn_id(self.bucket)}.Arn>/*"
        stack = Stack.of(self)
        region = "<AWS::Region>" if Token.is_unresolved(stack.region) else stack.region
        account = "<AWS::AccountId>" if Token.is_unresolved(stack.account) else stack.account
        qualifier = DefaultStackSynthesizer.DEFAULT_QUALIFIER
        assets = f"Resource::arn:<AWS::Partition>:s3:::cdk-{qualifier}-assets-{account}-{region}/*"
        Validations.of(handler).acknowledge(
            ack(
                "AwsSolutions-L1",
                "aws-cdk-lib's BucketDeployment handler: its runtime is aws-cdk-lib's choice and moves "
                "with it; it runs only while CloudFormation deploys the console",
            ),
            ack(
                "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/"
                "AWSLambdaBasicExecutionRole]",
                "aws-cdk-lib's BucketDeployment handler: the basic execution policy only lets it write "
                "its own log streams",
            ),
            iam_ack(
                "Action::s3:GetObject*",
                "BucketDeployment reads the console's asset (CDK assets bucket) and compares the files "
                "already in the console bucket",
            ),
            iam_ack("Action::s3:GetBucket*", "BucketDeployment reads the two buckets' locations"),
            iam_ack("Action::s3:List*", "BucketDeployment lists the console bucket to sync and prune it"),
            iam_ack(
                "Action::s3:DeleteObject*",
                "BucketDeployment prunes the files no longer in console/app, in the console bucket only",
            ),
            iam_ack("Action::s3:Abort*", "BucketDeployment aborts its own failed multipart uploads"),
            iam_ack(
                assets,
                "the console's asset in the CDK bootstrap assets bucket: its key is a content hash",
            ),
            iam_ack(files, "every file of the console bucket (nothing else is in it)"),
            iam_ack(
                "Resource::*",
                "cloudfront:CreateInvalidation/GetInvalidation after each deploy (invalidation ids are "
                "only known once created); no other action is on *",
            ),
        )
