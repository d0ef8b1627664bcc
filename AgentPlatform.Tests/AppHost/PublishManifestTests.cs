using System.Diagnostics;
using System.Text.Json.Nodes;

namespace AgentPlatform.Tests.AppHost;

/// <summary>
/// The manifest azd deploys, written as azd writes it: the AppHost run with <c>--publisher manifest</c>,
/// as its own process, in Production (no user secrets of whoever runs the tests).
/// </summary>
public sealed class PublishManifestTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromMinutes(1);

    /// <summary>Every credential a realistic configuration gives the AppHost; none may reach the manifest.</summary>
    private static readonly string[] Secrets =
    [
        "sk-openai-SECRET-0123456789", "azure-SECRET-0123456789", "anthropic-SECRET-0123456789",
        "https://hooks.slack.com/services/T000/B000/SECRET0123456789", "console-SECRET-0123456789", "redis-SECRET-0123456789",
    ];

    /// <summary>Two model groups over three providers, one alert webhook, console credential, a few plain settings.</summary>
    private static readonly string[] RealisticConfiguration =
    [
        "--Router:ModelGroups:gpt:Deployments:0:Name=openai",
        "--Router:ModelGroups:gpt:Deployments:0:BaseUrl=https://api.openai.com/v1",
        "--Router:ModelGroups:gpt:Deployments:0:Model=gpt-4o-mini",
        $"--Router:ModelGroups:gpt:Deployments:0:ApiKey={Secrets[0]}",
        "--Router:ModelGroups:gpt:Deployments:1:Name=azure-east",
        "--Router:ModelGroups:gpt:Deployments:1:Provider=azure-openai",
        "--Router:ModelGroups:gpt:Deployments:1:BaseUrl=https://east.openai.azure.com",
        "--Router:ModelGroups:gpt:Deployments:1:Model=gpt-4o-mini",
        "--Router:ModelGroups:gpt:Deployments:1:ApiKeyParameter=azure-key",
        $"--Router:ModelGroups:gpt:Deployments:1:ApiKey={Secrets[1]}",
        "--Router:ModelGroups:gpt:Deployments:2:Name=azure-west",
        "--Router:ModelGroups:gpt:Deployments:2:Provider=azure-openai",
        "--Router:ModelGroups:gpt:Deployments:2:BaseUrl=https://west.openai.azure.com",
        "--Router:ModelGroups:gpt:Deployments:2:Model=gpt-4o-mini",
        "--Router:ModelGroups:gpt:Deployments:2:ApiKeyParameter=azure-key",
        "--Router:ModelGroups:claude:Deployments:0:Name=anthropic",
        "--Router:ModelGroups:claude:Deployments:0:Provider=anthropic",
        "--Router:ModelGroups:claude:Deployments:0:BaseUrl=https://api.anthropic.com",
        "--Router:ModelGroups:claude:Deployments:0:Model=claude-sonnet-4-5",
        $"--Router:ModelGroups:claude:Deployments:0:ApiKey={Secrets[2]}",
        "--Router:ModelGroups:claude:Fallbacks:0=gpt",
        "--Alerts:Webhooks:0:Name=ops",
        $"--Alerts:Webhooks:0:Url={Secrets[3]}",
        "--Alerts:Webhooks:0:Format=slack",
        "--Alerts:Webhooks:1:Name=pager",
        $"--AgentPlatform:AdminCredential={Secrets[4]}",
        "--Cache:Enabled=true",
        "--Router:Retry:MaxAttempts=3",
        "--Agents:RunRetentionHours=48",
        "--ServiceSettings:router:Logging:LogLevel:Default=Warning",
    ];

    [Fact]
    public async Task The_manifest_is_deployable_and_holds_no_secret_in_clear()
    {
        var (manifest, text) = await PublishAsync(RealisticConfiguration);
        var resources = manifest["resources"]!.AsObject();

        Assert.All(resources, r => Assert.Contains(Type(r.Value), new[] { "project.v0", "project.v1", "container.v0", "container.v1", "parameter.v0", "value.v0" }));
        Assert.All(resources.Where(r => r.Value!["deployment"] is not null), r => Assert.Equal("azure.bicep.v0", Type(r.Value!["deployment"])));
        Assert.DoesNotContain(resources, r => r.Key.StartsWith("sim-", StringComparison.Ordinal) || (r.Value!["path"]?.GetValue<string>().Contains("Simulator") ?? false));
        Assert.DoesNotContain(Secrets, text.Contains);

        // Only the Api and the console face the internet.
        Assert.True(AllBindingsExternal(resources["api"]!) && AllBindingsExternal(resources["web"]!));
        Assert.True(NoBindingExternal(resources["router"]!) && NoBindingExternal(resources["cache"]!));

        // Redis is a container with a password, never an executable or the publishing machine's.
        Assert.Equal("container.v0", Type(resources["cache"]));
        Assert.Contains("{cache-password.value}", resources["cache"]!["connectionString"]!.GetValue<string>());
        Assert.NotEmpty(resources["cache"]!["volumes"]!.AsArray());

        // Every credential is a secret parameter, referenced where it is used.
        string[] parameters = ["master-key", "internal-key", "metrics-key", "cache-password", "gpt-openai-api-key", "azure-key", "claude-anthropic-api-key",
            "alerts-webhooks-0-url", "alerts-webhooks-1-url", "agentplatform-admincredential"];
        Assert.All(parameters, name => AssertSecretParameter(resources, name));
        var router = Environment(resources["router"]!);
        var api = Environment(resources["api"]!);
        var web = Environment(resources["web"]!);
        Assert.Equal("{gpt-openai-api-key.value}", router["Router__ModelGroups__gpt__Deployments__0__ApiKey"]);
        Assert.Equal("{azure-key.value}", router["Router__ModelGroups__gpt__Deployments__1__ApiKey"]);
        Assert.Equal("{azure-key.value}", router["Router__ModelGroups__gpt__Deployments__2__ApiKey"]);
        Assert.Equal("{claude-anthropic-api-key.value}", router["Router__ModelGroups__claude__Deployments__0__ApiKey"]);
        Assert.Equal("{internal-key.value}", router["AgentPlatform__InternalKey"]);
        Assert.Equal("{internal-key.value}", api["AgentPlatform__InternalKey"]);
        Assert.Equal("{master-key.value}", api["AgentPlatform__MasterKey"]);
        Assert.Equal("{master-key.value}", web["AgentPlatform__MasterKey"]);
        Assert.Equal("{alerts-webhooks-0-url.value}", api["Alerts__Webhooks__0__Url"]);
        Assert.Equal("{alerts-webhooks-1-url.value}", api["Alerts__Webhooks__1__Url"]);
        Assert.Equal("{agentplatform-admincredential.value}", web["AgentPlatform__AdminCredential"]);
        Assert.All(new[] { router, api, web }, env => Assert.Equal("{metrics-key.value}", env["AgentPlatform__MetricsKey"]));

        // Each service finds what it needs, and the plain settings reach the service that reads them.
        Assert.Equal("{cache.connectionString}", router["ConnectionStrings__cache"]);
        Assert.Equal("{cache.connectionString}", api["ConnectionStrings__cache"]);
        Assert.Equal("{router.bindings.http.url}", api["services__router__http__0"]);
        Assert.Equal("{api.bindings.http.url}", web["services__api__http__0"]);
        Assert.Equal("https://api.anthropic.com", router["Router__ModelGroups__claude__Deployments__0__BaseUrl"]);
        Assert.Equal("gpt", router["Router__ModelGroups__claude__Fallbacks__0"]);
        Assert.Equal("3", router["Router__Retry__MaxAttempts"]);
        Assert.Equal("Warning", router["Logging__LogLevel__Default"]);
        Assert.Equal("true", api["Cache__Enabled"]);
        Assert.Equal("48", api["Agents__RunRetentionHours"]);
        Assert.Equal("slack", api["Alerts__Webhooks__0__Format"]);
        Assert.DoesNotContain(web.Keys, key => key.StartsWith("Router__", StringComparison.Ordinal) || key == "AgentPlatform__DashboardUrl");
        Assert.DoesNotContain(api.Keys, key => key.Contains("AdminCredential", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Api_router_and_console_deploy_as_container_apps_with_probes_replicas_and_a_drain_long_enough()
    {
        var published = await PublishAsync([.. RealisticConfiguration, "--AgentPlatform:Replicas:Api=3", "--Shutdown:DrainTimeoutSeconds=20", "--Shutdown:FlushTimeoutSeconds=8"]);
        var resources = published.Manifest["resources"]!.AsObject();

        foreach (var service in new[] { "api", "router", "web" })
        {
            var resource = resources[service]!;
            Assert.Equal("project.v1", Type(resource));
            var deployment = resource["deployment"]!;
            Assert.Equal("azure.bicep.v0", Type(deployment));
            var file = deployment["path"]!.GetValue<string>();
            Assert.Equal($"{service}.module.bicep", file);
            var module = published.Modules[file];
            await AssertCompilesCleanAsync(file, module);
            Assert.DoesNotContain(Secrets, module.Contains);

            // Every parameter azd fills is declared by the module, credentials as secure ones kept as Container Apps secrets.
            var parameters = deployment["params"]!.AsObject().ToDictionary(p => p.Key, p => p.Value!.GetValue<string>());
            Assert.Equal($"{{{service}.containerImage}}", parameters[$"{service}_containerimage"]);
            Assert.All(parameters.Keys, name => Assert.Contains($"param {name} string", module));
            Assert.Contains("@secure()\nparam env_agentplatform__metricskey string", module);
            Assert.Equal("{metrics-key.value}", parameters["env_agentplatform__metricskey"]);
            Assert.Contains("{ name: 'AgentPlatform__MetricsKey', secretRef: 'agentplatform-metricskey' }", module);
            Assert.Contains("{ name: 'HTTP_PORTS', value: env_http_ports }", module);

            // Probes from the app model; a stopping replica is given its drain and flush and 5 s more.
            Assert.Contains("type: 'Liveness'\n              httpGet: { path: '/alive'", module);
            Assert.Contains("type: 'Readiness'\n              httpGet: { path: '/health'", module);
            Assert.Contains("terminationGracePeriodSeconds: 33", module);
            Assert.Contains($"external: {(service == "router" ? "false" : "true")}", module);
        }
        Assert.Contains("scale: { minReplicas: 3, maxReplicas: 3 }", published.Modules["api.module.bicep"]);
        Assert.Contains("scale: { minReplicas: 1, maxReplicas: 10 }", published.Modules["router.module.bicep"]);
        var router = resources["router"]!["deployment"]!["params"]!;
        Assert.Equal("{gpt-openai-api-key.value}", router["env_router__modelgroups__gpt__deployments__0__apikey"]!.GetValue<string>());
        Assert.Contains("@secure()\nparam env_router__modelgroups__gpt__deployments__0__apikey string", published.Modules["router.module.bicep"]);
        Assert.Contains("@secure()\nparam env_connectionstrings__cache string", published.Modules["router.module.bicep"]);
        Assert.Contains("param env_router__retry__maxattempts string", published.Modules["router.module.bicep"]);
    }

    [Fact]
    public async Task An_existing_redis_is_a_connection_string_whose_value_is_a_secret_parameter()
    {
        var (manifest, text) = await PublishAsync([.. RealisticConfiguration,
            "--AgentPlatform:Deploy:Redis=connection-string", $"--ConnectionStrings:cache=myredis.example:6380,password={Secrets[5]},ssl=true"]);
        var resources = manifest["resources"]!.AsObject();

        AssertSecretParameter(resources, "cache");
        Assert.Equal("{cache.value}", resources["cache"]!["connectionString"]!.GetValue<string>());
        Assert.DoesNotContain(resources, r => Type(r.Value).StartsWith("container", StringComparison.Ordinal));
        Assert.DoesNotContain(Secrets, text.Contains);
        Assert.Equal("{cache.connectionString}", Environment(resources["api"]!)["ConnectionStrings__cache"]);
    }

    [Fact]
    public async Task What_the_publishing_machine_has_changes_nothing()
    {
        // A machine with nothing but dotnet, and one whose Docker and redis-server answer.
        using var bare = new MachinePath(withTools: false);
        using var equipped = new MachinePath(withTools: true);

        var bareMachine = await PublishAsync(RealisticConfiguration, bare.Path);
        var equippedMachine = await PublishAsync(RealisticConfiguration, equipped.Path);
        var onBare = bareMachine.Text;

        Assert.Equal(onBare, equippedMachine.Text);
        Assert.Equal(bareMachine.Modules, equippedMachine.Modules);
        Assert.DoesNotContain("executable", onBare);
        Assert.DoesNotContain("127.0.0.1", onBare);
    }

    [Fact]
    public async Task The_simulators_are_published_only_when_asked_and_stay_internal()
    {
        var failure = await Assert.ThrowsAsync<InvalidOperationException>(() => PublishAsync([]));
        Assert.Contains("Router:ModelGroups", failure.Message);
        Assert.Contains("AgentPlatform:Deploy:Simulators", failure.Message);

        var (manifest, _) = await PublishAsync(["--AgentPlatform:Deploy:Simulators=true"]);
        var resources = manifest["resources"]!.AsObject();

        Assert.True(NoBindingExternal(resources["sim-a"]!) && NoBindingExternal(resources["sim-b"]!));
        Assert.Equal("{sim-a.bindings.http.url}/v1", Environment(resources["router"]!)["Router__ModelGroups__default__Deployments__0__BaseUrl"]);
    }

    /// <summary>Compiles a module with the Bicep CLI (from its NuGet package): no error and no warning (an unknown property is a warning).</summary>
    private static async Task AssertCompilesCleanAsync(string name, string bicep)
    {
        var compiler = typeof(PublishManifestTests).Assembly.GetCustomAttributes(typeof(System.Reflection.AssemblyMetadataAttribute), false)
            .Cast<System.Reflection.AssemblyMetadataAttribute>().Single(a => a.Key == "BicepPath").Value!;
        var directory = Directory.CreateTempSubdirectory("agentplatform-bicep-");
        try
        {
            var file = Path.Combine(directory.FullName, name);
            await File.WriteAllTextAsync(file, bicep);
            var start = new ProcessStartInfo(compiler) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
            foreach (var argument in new[] { "build", file, "--stdout" })
            {
                start.ArgumentList.Add(argument);
            }
            using var process = Process.Start(start)!;
            var stdout = process.StandardOutput.ReadToEndAsync();
            var stderr = await process.StandardError.ReadToEndAsync();
            await process.WaitForExitAsync().WaitAsync(Timeout);
            Assert.True(process.ExitCode == 0 && stderr.Length == 0, $"{name} does not compile cleanly:\n{stderr}");
            Assert.Contains("Microsoft.App/containerApps", await stdout);
        }
        finally
        {
            directory.Delete(recursive: true);
        }
    }

    private static string Type(JsonNode? resource) => resource!["type"]!.GetValue<string>();

    private static Dictionary<string, string> Environment(JsonNode resource) =>
        resource["env"]!.AsObject().ToDictionary(e => e.Key, e => e.Value!.GetValue<string>());

    private static bool AllBindingsExternal(JsonNode resource) =>
        resource["bindings"]!.AsObject().All(b => b.Value!["external"]?.GetValue<bool>() == true);

    private static bool NoBindingExternal(JsonNode resource) =>
        resource["bindings"]!.AsObject().All(b => b.Value!["external"]?.GetValue<bool>() != true);

    private static void AssertSecretParameter(JsonObject resources, string name)
    {
        Assert.True(resources.ContainsKey(name), $"no parameter '{name}' in the manifest");
        var parameter = resources[name]!;
        Assert.Equal("parameter.v0", Type(parameter));
        Assert.Equal($"{{{name}.inputs.value}}", parameter["value"]!.GetValue<string>());
        var input = parameter["inputs"]!["value"]!;
        Assert.True(input["secret"]!.GetValue<bool>(), $"parameter '{name}' is not secret");
        Assert.Null(input["default"]?["value"]);
    }

    /// <summary>The manifest (parsed and as text) and the Bicep modules written beside it, by file name.</summary>
    private sealed record Published(JsonNode Manifest, string Text, Dictionary<string, string> Modules)
    {
        public void Deconstruct(out JsonNode manifest, out string text) => (manifest, text) = (Manifest, Text);
    }

    /// <summary>Runs the AppHost's build output as azd runs it and reads the manifest and modules it wrote.</summary>
    private static async Task<Published> PublishAsync(string[] configuration, string? path = null)
    {
        var output = Directory.CreateTempSubdirectory("agentplatform-manifest-");
        try
        {
            var dotnet = System.Environment.ProcessPath!;
            var start = new ProcessStartInfo(dotnet)
            {
                WorkingDirectory = output.FullName,
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                UseShellExecute = false,
            };
            start.ArgumentList.Add(AppHostAssembly());
            foreach (var argument in (string[])["--publisher", "manifest", "--output-path", Path.Combine(output.FullName, "aspire-manifest.json"), .. configuration])
            {
                start.ArgumentList.Add(argument);
            }
            start.Environment["DOTNET_ENVIRONMENT"] = "Production";
            start.Environment.Remove("ASPNETCORE_ENVIRONMENT");
            if (path is not null)
            {
                start.Environment["PATH"] = path;
            }
            using var process = Process.Start(start)!;
            var stdout = process.StandardOutput.ReadToEndAsync();
            var stderr = process.StandardError.ReadToEndAsync();
            await process.WaitForExitAsync().WaitAsync(Timeout);
            if (process.ExitCode != 0)
            {
                throw new InvalidOperationException($"The AppHost exited {process.ExitCode}: {await stderr}\n{await stdout}");
            }
            var text = await File.ReadAllTextAsync(Path.Combine(output.FullName, "aspire-manifest.json"));
            var modules = new Dictionary<string, string>();
            foreach (var module in output.GetFiles("*.bicep"))
            {
                modules[module.Name] = await File.ReadAllTextAsync(module.FullName);
            }
            return new Published(JsonNode.Parse(text)!, text, modules);
        }
        finally
        {
            output.Delete(recursive: true);
        }
    }

    /// <summary>The AppHost's own build output (its runtime config and dependencies), in the configuration the tests were built in.</summary>
    private static string AppHostAssembly()
    {
        var tests = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar));
        var project = Projects.AgentPlatform_AppHost.ProjectPath;
        var appHost = project.EndsWith(".csproj", StringComparison.Ordinal) ? Path.GetDirectoryName(project)! : project;
        return Path.Combine(appHost, "bin", tests.Parent!.Name, tests.Name, "AgentPlatform.AppHost.dll");
    }

    /// <summary>A PATH holding dotnet and, when asked, a <c>docker</c> and a <c>redis-server</c> that answer.</summary>
    private sealed class MachinePath : IDisposable
    {
        private readonly DirectoryInfo _tools = Directory.CreateTempSubdirectory("agentplatform-path-");

        public MachinePath(bool withTools)
        {
            var dotnetDirectory = System.IO.Path.GetDirectoryName(System.Environment.ProcessPath)!;
            Path = withTools ? $"{_tools.FullName}{System.IO.Path.PathSeparator}{dotnetDirectory}" : dotnetDirectory;
            if (withTools)
            {
                foreach (var tool in new[] { "docker", "redis-server" })
                {
                    var file = System.IO.Path.Combine(_tools.FullName, tool);
                    File.WriteAllText(file, "#!/bin/sh\nexit 0\n");
                    if (!OperatingSystem.IsWindows())
                    {
                        File.SetUnixFileMode(file, UnixFileMode.UserRead | UnixFileMode.UserExecute);
                    }
                }
            }
        }

        public string Path { get; }

        public void Dispose() => _tools.Delete(recursive: true);
    }
}
