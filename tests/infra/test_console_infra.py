"""The web console in the platform template (issue 19): bucket, deployment, CloudFront, hosted UI."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from aws_cdk.assertions import Template

from infra.constructs import console
from infra.constructs.console import CONSOLE_APP
from tests.infra.test_platform_stack import assert_tls_only, of_type


def _one(raw: dict[str, Any], type_name: str, prefix: str = "Console") -> tuple[str, dict[str, Any]]:
    (found,) = [(k, r) for k, r in of_type(raw, type_name).items() if k.startswith(prefix)]
    return found[0], found[1].get("Properties", {})


def _ref(value: Any) -> str:
    return str(value["Ref"])


def _distribution(raw: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    logical, props = _one(raw, "AWS::CloudFront::Distribution")
    return logical, props["DistributionConfig"]


def _console_url(distribution_id: str) -> dict[str, Any]:
    return {"Fn::Join": ["", ["https://", {"Fn::GetAtt": [distribution_id, "DomainName"]}, "/app/"]]}


def test_the_files_bucket_is_private_encrypted_and_tls_only(
    platform: Template, platform_raw: dict[str, Any]
) -> None:
    bucket_id, props = _one(platform_raw, "AWS::S3::Bucket")
    assert props["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True,
        "BlockPublicPolicy": True,
        "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True,
    }
    assert props["BucketEncryption"]["ServerSideEncryptionConfiguration"] == [
        {"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}
    ]
    assert props["OwnershipControls"] == {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]}
    assert "WebsiteConfiguration" not in props  # S3 is no web server here: CloudFront is
    assert_tls_only(platform, bucket_id)
    # the one reader is this distribution's service principal (Origin Access Control)
    _, policy = _one(platform_raw, "AWS::S3::BucketPolicy")
    allows = [s for s in policy["PolicyDocument"]["Statement"] if s["Effect"] == "Allow"]
    distribution_id, _ = _distribution(platform_raw)
    (allow,) = allows
    assert allow["Principal"] == {"Service": "cloudfront.amazonaws.com"}
    assert allow["Action"] == "s3:GetObject"
    assert allow["Resource"] == {"Fn::Join": ["", [{"Fn::GetAtt": [bucket_id, "Arn"]}, "/*"]]}
    assert distribution_id in json.dumps(allow["Condition"]["StringEquals"]["AWS:SourceArn"])


def test_the_distribution_serves_the_bucket_through_oac_and_the_api_under_api(
    platform_raw: dict[str, Any],
) -> None:
    bucket_id, _ = _one(platform_raw, "AWS::S3::Bucket")
    oac_id, oac = _one(platform_raw, "AWS::CloudFront::OriginAccessControl")
    assert oac["OriginAccessControlConfig"]["SigningBehavior"] == "always"
    assert oac["OriginAccessControlConfig"]["OriginAccessControlOriginType"] == "s3"
    _, config = _distribution(platform_raw)
    origins = {o["Id"]: o for o in config["Origins"]}
    default = config["DefaultCacheBehavior"]
    (api,) = config["CacheBehaviors"]  # the two behaviours: default and /api/*

    files = origins[default["TargetOriginId"]]
    assert files["DomainName"] == {"Fn::GetAtt": [bucket_id, "RegionalDomainName"]}
    assert files["OriginAccessControlId"] == {"Fn::GetAtt": [oac_id, "Id"]}
    assert files["S3OriginConfig"] == {"OriginAccessIdentity": ""}  # OAC, no legacy OAI
    assert default["ViewerProtocolPolicy"] == "redirect-to-https"
    assert default["Compress"] is True
    assert default["AllowedMethods"] == ["GET", "HEAD"]

    assert api["PathPattern"] == "/api/*"
    backend = origins[api["TargetOriginId"]]
    (api_id,) = of_type(platform_raw, "AWS::ApiGatewayV2::Api")  # its host name, from its endpoint
    assert backend["DomainName"] == {
        "Fn::Select": [2, {"Fn::Split": ["/", {"Fn::GetAtt": [api_id, "ApiEndpoint"]}]}]
    }
    assert backend["CustomOriginConfig"]["OriginProtocolPolicy"] == "https-only"
    assert backend["CustomOriginConfig"]["OriginSSLProtocols"] == ["TLSv1.2"]
    assert api["ViewerProtocolPolicy"] == "https-only"
    assert set(api["AllowedMethods"]) == {"GET", "HEAD", "OPTIONS", "PUT", "PATCH", "POST", "DELETE"}
    assert api["CachePolicyId"] == "4135ea2d-6df8-44a3-9df3-4b5a84be39ad"  # managed CachingDisabled
    # managed AllViewerExceptHostHeader: every viewer header (Authorization too) but Host, every query
    assert api["OriginRequestPolicyId"] == "b689b0a8-53d0-40ab-baf2-68738e2966ac"

    # the same security headers on both
    assert default["ResponseHeadersPolicyId"] == api["ResponseHeadersPolicyId"]
    assert not config.get("DefaultRootObject")  # the console lives under /app/ (a function maps it)


def _function_code(raw: dict[str, Any], behavior: dict[str, Any]) -> str:
    (association,) = behavior["FunctionAssociations"]
    assert association["EventType"] == "viewer-request"
    logical = association["FunctionARN"]["Fn::GetAtt"][0]
    function = raw["Resources"][logical]["Properties"]
    assert function["AutoPublish"] is True
    assert function["FunctionConfig"]["Runtime"] == "cloudfront-js-2.0"
    return str(function["FunctionCode"])


def test_the_api_behaviour_strips_the_api_prefix_on_viewer_request(platform_raw: dict[str, Any]) -> None:
    _, config = _distribution(platform_raw)
    (api,) = config["CacheBehaviors"]
    code = _function_code(platform_raw, api)
    assert 'request.uri.replace(/^\\/api(?=\\/|$)/, "")' in code
    index = _function_code(platform_raw, config["DefaultCacheBehavior"])
    assert '"/app/"' in index and 'uri + "index.html"' in index


def test_the_functions_rewrite_as_cloudfront_would(tmp_path: Path) -> None:
    """The two viewer-request functions, run by Node on sample requests (what CloudFront does)."""
    node = shutil.which("node")
    if node is None:
        pytest.skip("no node on PATH")
    script = tmp_path / "run.js"
    script.write_text(
        "const api = (function(){" + console._API_FUNCTION + "return handler;})();\n"
        "const index = (function(){" + console._INDEX_FUNCTION + "return handler;})();\n"
        "const run = (f, uri) => { const r = f({ request: { uri } }); return r.uri || r.statusCode + ' ' + "
        "r.headers.location.value; };\n"
        "console.log(JSON.stringify({\n"
        "  api: ['/api/tickets', '/api/tickets/T-1/actions', '/api/', '/api/openapi.json', '/apis/x']"
        ".map((u) => run(api, u)),\n"
        "  index: ['/', '/app', '/app/', '/app/js/main.js', '/app/config.json'].map((u) => run(index, u)),\n"
        "}));\n"
    )
    out = json.loads(subprocess.run([node, str(script)], check=True, capture_output=True, text=True).stdout)
    assert out["api"] == ["/tickets", "/tickets/T-1/actions", "/", "/openapi.json", "/apis/x"]
    assert out["index"] == [
        "302 /app/",
        "302 /app/",
        "/app/index.html",
        "/app/js/main.js",
        "/app/config.json",
    ]


def test_security_headers_and_csp(platform_raw: dict[str, Any]) -> None:
    _, props = _one(platform_raw, "AWS::CloudFront::ResponseHeadersPolicy")
    headers = props["ResponseHeadersPolicyConfig"]["SecurityHeadersConfig"]
    assert headers["StrictTransportSecurity"]["AccessControlMaxAgeSec"] >= 31536000
    assert headers["ContentTypeOptions"] == {"Override": True}
    assert headers["FrameOptions"]["FrameOption"] == "DENY"
    csp = json.dumps(headers["ContentSecurityPolicy"]["ContentSecurityPolicy"])
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
    domain_id, _ = _one(platform_raw, "AWS::Cognito::UserPoolDomain")
    assert domain_id in csp  # connect-src: the hosted UI's token endpoint


def _deployment(raw: dict[str, Any]) -> dict[str, Any]:
    return _one(raw, "Custom::CDKBucketDeployment")[1]


def test_the_deployment_copies_console_app_under_app_and_invalidates(
    platform_raw: dict[str, Any], synth: Any
) -> None:
    bucket_id, _ = _one(platform_raw, "AWS::S3::Bucket")
    distribution_id, _ = _distribution(platform_raw)
    deployment = _deployment(platform_raw)
    assert deployment["DestinationBucketName"] == {"Ref": bucket_id}
    assert deployment["DestinationBucketKeyPrefix"] == "app/"
    assert deployment["Prune"] is True
    assert deployment["DistributionId"] == {"Ref": distribution_id}
    assert deployment["DistributionPaths"] == ["/app/*"]
    assert deployment["SystemMetadata"] == {"cache-control": "no-cache"}
    # two sources: console/app as it is (vendored packages included), then config.json
    assets = json.loads((synth.outdir / "ScrmPlatform.assets.json").read_text())["files"]
    app_key, config_key = deployment["SourceObjectKeys"]
    app_dir = synth.outdir / assets[app_key.removesuffix(".zip")]["source"]["path"]
    shipped = {p.relative_to(app_dir).as_posix() for p in app_dir.rglob("*") if p.is_file()}
    expected = {p.relative_to(CONSOLE_APP).as_posix() for p in CONSOLE_APP.rglob("*") if p.is_file()}
    assert shipped == expected
    assert {"index.html", "js/main.js", "css/app.css", "vendor/preact-htm.js"} <= shipped
    config_dir = synth.outdir / assets[config_key.removesuffix(".zip")]["source"]["path"]
    assert sorted(p.name for p in config_dir.iterdir()) == ["config.json"]


def test_config_json_names_the_api_and_the_hosted_ui(platform_raw: dict[str, Any], synth: Any) -> None:
    deployment = _deployment(platform_raw)
    assets = json.loads((synth.outdir / "ScrmPlatform.assets.json").read_text())["files"]
    config_key = deployment["SourceObjectKeys"][1]
    config_dir = synth.outdir / assets[config_key.removesuffix(".zip")]["source"]["path"]
    text = (config_dir / "config.json").read_text()
    # the deploy-time values are markers in the file, filled by the deployment
    markers = deployment["SourceMarkers"][1]
    for marker, value in markers.items():
        text = text.replace(marker, json.dumps(value))
    config = json.loads(text)
    domain_id, _ = _one(platform_raw, "AWS::Cognito::UserPoolDomain")
    client_id, _ = _one(platform_raw, "AWS::Cognito::UserPoolClient")
    assert config["apiBase"] == "/api"
    assert config["auth"]["mode"] == "cognito"
    domain = json.dumps(config["auth"]["domain"])
    assert '\\"https://' in domain and domain_id in domain and ".amazoncognito.com" in domain
    assert config["auth"]["clientId"] == {"Fn::Join": ["", ['"', {"Ref": client_id}, '"']]}


def test_the_hosted_ui_domain_is_a_deterministic_cognito_prefix(platform_raw: dict[str, Any]) -> None:
    (pool_id,) = of_type(platform_raw, "AWS::Cognito::UserPool")
    _, domain = _one(platform_raw, "AWS::Cognito::UserPoolDomain")
    assert domain["UserPoolId"] == {"Ref": pool_id}
    assert domain["Domain"] == {"Fn::Join": ["", ["scrmplatform-", {"Ref": "AWS::AccountId"}]]}
    assert "CustomDomainConfig" not in domain


def test_the_console_client_is_public_code_flow_with_pkce_back_to_the_console(
    platform_raw: dict[str, Any],
) -> None:
    (pool_id,) = of_type(platform_raw, "AWS::Cognito::UserPool")
    distribution_id, _ = _distribution(platform_raw)
    _, client = _one(platform_raw, "AWS::Cognito::UserPoolClient")
    assert client["UserPoolId"] == {"Ref": pool_id}
    assert client["GenerateSecret"] is False  # public: a browser keeps no secret; PKCE instead
    assert client["AllowedOAuthFlowsUserPoolClient"] is True
    assert client["AllowedOAuthFlows"] == ["code"]  # no implicit grant: tokens never in the URL
    assert set(client["AllowedOAuthScopes"]) == {"openid", "email", "profile"}
    assert client["SupportedIdentityProviders"] == ["COGNITO"]
    assert client["CallbackURLs"] == [_console_url(distribution_id)]
    assert client["LogoutURLs"] == [_console_url(distribution_id)]
    assert "ReadAttributes" not in client  # the ID token carries custom:tenant (and cognito:groups)


def test_only_the_console_client_signs_in_through_the_hosted_ui(platform_raw: dict[str, Any]) -> None:
    clients = of_type(platform_raw, "AWS::Cognito::UserPoolClient")
    others = [r["Properties"] for k, r in clients.items() if not k.startswith("Console")]
    assert others, "the API's own client"
    for client in others:
        assert client["AllowedOAuthFlowsUserPoolClient"] is False
        assert not {"AllowedOAuthFlows", "AllowedOAuthScopes", "CallbackURLs"} & set(client)


def test_the_api_accepts_the_console_tokens(platform_raw: dict[str, Any]) -> None:
    (authorizer,) = of_type(platform_raw, "AWS::ApiGatewayV2::Authorizer").values()
    audience = authorizer["Properties"]["JwtConfiguration"]["Audience"]
    clients = of_type(platform_raw, "AWS::Cognito::UserPoolClient")
    assert sorted(_ref(a) for a in audience) == sorted(clients)


def test_one_console_for_every_tenant(platform_raw: dict[str, Any], tenant_raws: dict[str, Any]) -> None:
    assert platform_raw["Outputs"]["ConsoleUrl"]["Value"] == _console_url(_distribution(platform_raw)[0])
    for raw in tenant_raws.values():
        kinds = {r["Type"] for r in raw["Resources"].values()}
        assert not {t for t in kinds if t.startswith("AWS::CloudFront::")}
        assert "Custom::CDKBucketDeployment" not in kinds
        assert "AWS::Cognito::UserPoolDomain" not in kinds
