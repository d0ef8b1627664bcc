using Aspire.Hosting;
using Aspire.Hosting.ApplicationModel;
using Aspire.Hosting.Testing;
using AgentPlatform.AppHost.Redis;

namespace AgentPlatform.Tests.AppHost;

/// <summary>The app model as the AppHost builds it, inspected without starting anything.</summary>
public sealed class AppModelTests
{
    [Fact]
    public async Task The_platform_has_its_named_resources_wired_by_reference()
    {
        await using var builder = await CreateAsync("--AgentPlatform:Redis=garnet");

        var resources = builder.Resources.ToDictionary(r => r.Name);

        Assert.Superset(new HashSet<string> { "cache", "master-key", "internal-key", "metrics-key", "router", "api", "web", "sim-a", "sim-b" }, resources.Keys.ToHashSet());
        Assert.Equal(["cache", "internal-key", "master-key", "metrics-key", "router"], References(resources["api"]));
        Assert.Equal(["cache", "internal-key", "metrics-key"], References(resources["router"]).Where(r => !r.StartsWith("sim-", StringComparison.Ordinal)));
        Assert.Equal(["api", "master-key", "metrics-key"], References(resources["web"]));
        Assert.All(new[] { "master-key", "internal-key", "metrics-key" }, name => Assert.True(((ParameterResource)resources[name]).Secret));
    }

    [Fact]
    public async Task Without_any_redis_on_the_machine_garnet_is_embedded()
    {
        await using var builder = await CreateAsync("--AgentPlatform:Redis=garnet");

        var cache = Assert.IsType<GarnetResource>(builder.Resources.Single(r => r.Name == "cache"));

        Assert.InRange(cache.Port, 1, 65535);
    }

    [Fact]
    public async Task Redis_server_runs_with_append_only_persistence()
    {
        var data = Path.Combine(Path.GetTempPath(), "agentplatform-model-test");
        await using var builder = await CreateAsync("--AgentPlatform:Redis=redis-server", $"--AgentPlatform:RedisDataDirectory={data}");

        var cache = Assert.IsType<RedisServerResource>(builder.Resources.Single(r => r.Name == "cache"));
        var args = await ArgumentsAsync(cache);

        Assert.Equal("redis-server", cache.Command);
        Assert.Contains("--appendonly", args);
        Assert.Equal("yes", args[args.IndexOf("--appendonly") + 1]);
        Assert.Equal(data, args[args.IndexOf("--dir") + 1]);
    }

    [Fact]
    public async Task A_configured_connection_string_is_used_as_is()
    {
        await using var builder = await CreateAsync("--ConnectionStrings:cache=redis.internal:6380");

        var cache = builder.Resources.Single(r => r.Name == "cache");

        Assert.IsAssignableFrom<IResourceWithConnectionString>(cache);
        Assert.IsNotType<GarnetResource>(cache);
        Assert.IsNotType<RedisServerResource>(cache);
        Assert.DoesNotContain(builder.Resources, r => r is ContainerResource);
    }

    [Fact]
    public async Task Configured_providers_replace_the_simulators()
    {
        await using var builder = await CreateAsync(
            "--AgentPlatform:Redis=garnet",
            "--Router:ModelGroups:gpt:Deployments:0:Name=openai",
            "--Router:ModelGroups:gpt:Deployments:0:BaseUrl=https://api.openai.com/v1",
            "--Router:ModelGroups:gpt:Deployments:0:Model=gpt-4o-mini");

        Assert.DoesNotContain(builder.Resources, r => r.Name.StartsWith("sim-", StringComparison.Ordinal));
    }

    [Fact]
    public async Task The_cache_settings_given_to_the_apphost_reach_the_api()
    {
        await using var builder = await CreateAsync("--AgentPlatform:Redis=garnet", "--Cache:Enabled=true", "--Cache:ModelGroups:default:TtlSeconds=60");

        var environment = await EnvironmentAsync(builder.Resources.Single(r => r.Name == "api"));

        Assert.Equal("true", environment["Cache__Enabled"]);
        Assert.Equal("60", environment["Cache__ModelGroups__default__TtlSeconds"]);
    }

    [Fact]
    public async Task Every_settings_section_given_to_the_apphost_reaches_the_service_that_reads_it()
    {
        await using var builder = await CreateAsync("--AgentPlatform:Redis=garnet",
            "--AgentPlatform:UsageRetentionDays=30", "--Alerts:EvaluationIntervalSeconds=5", "--Alerts:Webhooks:0:Name=ops",
            "--Alerts:Webhooks:0:Url=https://hooks.example/secret-path", "--Agents:ThreadTtlHours=2", "--Shutdown:DrainTimeoutSeconds=7",
            "--Router:Retry:MaxAttempts=2", "--Simulator:OutputTokens=3", "--AgentPlatform:AdminCredential=console-credential-0123456789",
            "--ServiceSettings:web:Logging:LogLevel:Default=Debug");

        var api = await EnvironmentAsync(builder.Resources.Single(r => r.Name == "api"));
        var router = await EnvironmentAsync(builder.Resources.Single(r => r.Name == "router"));
        var web = await EnvironmentAsync(builder.Resources.Single(r => r.Name == "web"));
        var simulator = await EnvironmentAsync(builder.Resources.Single(r => r.Name == "sim-a"));

        Assert.Equal("30", api["AgentPlatform__UsageRetentionDays"]);
        Assert.Equal("5", api["Alerts__EvaluationIntervalSeconds"]);
        Assert.Equal("2", api["Agents__ThreadTtlHours"]);
        Assert.Equal("7", api["Shutdown__DrainTimeoutSeconds"]);
        Assert.Equal("7", router["Shutdown__DrainTimeoutSeconds"]);
        Assert.Equal("2", router["Router__Retry__MaxAttempts"]);
        Assert.Equal("3", simulator["Simulator__OutputTokens"]);
        Assert.Equal("Debug", web["Logging__LogLevel__Default"]);
        Assert.False(api.ContainsKey("Logging__LogLevel__Default"));
        // Credentials travel as secret parameters, whose values the services get at run time.
        var webhook = Assert.IsType<ParameterResource>(api["Alerts__Webhooks__0__Url"]);
        Assert.True(webhook.Secret);
        Assert.Equal("https://hooks.example/secret-path", await webhook.GetValueAsync(default));
        var credential = Assert.IsType<ParameterResource>(web["AgentPlatform__AdminCredential"]);
        Assert.True(credential.Secret);
        Assert.False(api.ContainsKey("AgentPlatform__AdminCredential"));
        Assert.False(api.ContainsKey("AgentPlatform__Redis"));
    }

    [Fact]
    public async Task A_configured_providers_key_runs_locally_as_a_secret_parameter()
    {
        await using var builder = await CreateAsync(
            "--AgentPlatform:Redis=garnet",
            "--Router:ModelGroups:gpt:Deployments:0:Name=openai",
            "--Router:ModelGroups:gpt:Deployments:0:BaseUrl=https://api.openai.com/v1",
            "--Router:ModelGroups:gpt:Deployments:0:Model=gpt-4o-mini",
            "--Router:ModelGroups:gpt:Deployments:0:ApiKey=sk-local-0123456789",
            "--Router:ModelGroups:local:Deployments:0:Name=vllm",
            "--Router:ModelGroups:local:Deployments:0:BaseUrl=http://localhost:8000/v1",
            "--Router:ModelGroups:local:Deployments:0:Model=llama");

        var router = await EnvironmentAsync(builder.Resources.Single(r => r.Name == "router"));

        var key = Assert.IsType<ParameterResource>(router["Router__ModelGroups__gpt__Deployments__0__ApiKey"]);
        Assert.True(key.Secret);
        Assert.Equal("sk-local-0123456789", await key.GetValueAsync(default));
        Assert.Equal("https://api.openai.com/v1", router["Router__ModelGroups__gpt__Deployments__0__BaseUrl"]);
        Assert.False(router.ContainsKey("Router__ModelGroups__local__Deployments__0__ApiKey")); // a server without a key runs without one
    }

    private static Task<IDistributedApplicationTestingBuilder> CreateAsync(params string[] args) =>
        DistributedApplicationTestingBuilder.CreateAsync<Projects.AgentPlatform_AppHost>(
            [.. args, "--Parameters:master-key=model-test-master-key-0123456789"],
            (options, _) => options.DisableDashboard = true);

    private static List<string> References(IResource resource) => resource.Annotations
        .OfType<ResourceRelationshipAnnotation>()
        .Where(a => a.Type == "Reference")
        .Select(a => a.Resource.Name)
        .Order()
        .ToList();

    private static async Task<Dictionary<string, object>> EnvironmentAsync(IResource resource)
    {
        var environment = new Dictionary<string, object>();
        var context = new EnvironmentCallbackContext(new DistributedApplicationExecutionContext(DistributedApplicationOperation.Run), resource, environment);
        foreach (var callback in resource.Annotations.OfType<EnvironmentCallbackAnnotation>())
        {
            await callback.Callback(context);
        }
        return environment;
    }

    private static async Task<List<string>> ArgumentsAsync(IResource resource)
    {
        var args = new List<object>();
        var context = new CommandLineArgsCallbackContext(args);
        foreach (var callback in resource.Annotations.OfType<CommandLineArgsCallbackAnnotation>())
        {
            await callback.Callback(context);
        }
        return args.Select(a => a.ToString()!).ToList();
    }
}
