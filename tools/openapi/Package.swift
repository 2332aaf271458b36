// swift-tools-version:6.1
// Builds swift-openapi-generator's CLI for tools/openapi/generate.sh, which regenerates
// Sources/Control/Generated from Sources/Control/openapi.yaml. Not part of Baton's build:
// the generated code is committed and a test fails when it is stale (docs/http-api.md).
import PackageDescription

let package = Package(
    name: "OpenAPIGenerate",
    dependencies: [
        .package(url: "https://github.com/apple/swift-openapi-generator", exact: "1.14.3"),
    ],
    targets: []
)
