using System.Net.Http.Json;
using System.Text.Json;
using Aspire.Hosting;
using Aspire.Hosting.ApplicationModel;
using Aspire.Hosting.Testing;
using AgentPlatform.Tests.Infrastructure;
using AgentPlatform.Tests.Infrastructure.Otlp;

namespace AgentPlatform.Tests.EndToEnd;

/// <summary>
/// The whole platform started from the AppHost by Aspire's orchestrator, as the README's run command
/// starts it (dashboard off, ports free so runs do not collide, two Api replicas), shared by the
/// end-to-end tests. Every service sends its telemetry over OTLP to <see cref="Telemetry"/>, where
/// the dashboard would receive it.
/// </summary>
public sealed class AppHostFixture : IAsyncLifetime
{
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromMinutes(3);
    public const string MasterKey = "e2e-master-key-0123456789abcdefghij";

    /// <summary>The one model group whose answers the Api caches in these tests.</summary>
    public const string CachedModel = "azure-sim";

    /// <summary>Settings of each section given to the AppHost, whose effects SettingsEndToEndTests check.</summary>
    public const int UsageRetentionDays = 9;
    public const int RunRetentionHours = 5;
    public const string DrainTimeoutSeconds = "25";
    /// <summary>The rule the Api writes when configuration names none (the console's alert page expects the defaults).</summary>
    public const string BudgetRule = "budget";
    public const string WebhookName = "e2e-hook";
    public const string WebhookPath = "e2e-hook";

    private readonly string _dataDirectory = Directory.CreateTempSubdirectory("agentplatform-e2e-").FullName;

    public DistributedApplication App { get; private set; } = null!;

    public Uri ApiBaseAddress { get; private set; } = null!;

    public Uri WebBaseAddress { get; private set; } = null!;

    /// <summary>
    /// A virtual key the end-to-end tests call <c>/v1</c> with, made through the admin API at start: the
    /// master key is a client key only until the first virtual key exists, which a test may make.
    /// </summary>
    public string ClientKey { get; private set; } = null!;

    /// <summary>The spans every service exported.</summary>
    public OtlpTraceReceiver Telemetry { get; private set; } = null!;

    /// <summary>The alert webhook given to the AppHost (its URL a secret parameter).</summary>
    public WebhookReceiver Webhooks { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        Telemetry = await OtlpTraceReceiver.StartAsync();
        Webhooks = await WebhookReceiver.StartAsync();
        var builder = await DistributedApplicationTestingBuilder.CreateAsync<Projects.AgentPlatform_AppHost>(
            [
                $"--Parameters:master-key={MasterKey}",
                "--AgentPlatform:Ports:Api=0",
                "--AgentPlatform:Ports:Web=0",
                $"--AgentPlatform:RedisDataDirectory={_dataDirectory}",
                // Two Api processes behind the AppHost's proxy, sharing Redis; the response cache on for one group.
                "--AgentPlatform:Replicas:Api=2",
                $"--Cache:ModelGroups:{CachedModel}:Enabled=true",
                // One setting of each section the AppHost passes on (SettingsEndToEndTests).
                $"--AgentPlatform:UsageRetentionDays={UsageRetentionDays}",
                $"--Agents:RunRetentionHours={RunRetentionHours}",
                "--Agents:McpAllowedHosts:0=127.0.0.1", // the tests' MCP server, on loopback
                $"--Shutdown:DrainTimeoutSeconds={DrainTimeoutSeconds}",
                "--Alerts:EvaluationIntervalSeconds=0.5",
                $"--Alerts:Webhooks:0:Name={WebhookName}",
                $"--Alerts:Webhooks:0:Url={Webhooks.BaseAddress}{WebhookPath}",
            ],
            (options, _) => options.DisableDashboard = true);
        foreach (var project in builder.Resources.OfType<ProjectResource>().ToList())
        {
            // Set after Aspire's own OTLP settings, so these win: the receiver instead of the dashboard.
            builder.CreateResourceBuilder(project)
                .WithEnvironment("OTEL_EXPORTER_OTLP_ENDPOINT", Telemetry.BaseAddress.ToString().TrimEnd('/'))
                .WithEnvironment("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf")
                .WithEnvironment("OTEL_BSP_SCHEDULE_DELAY", "200");
        }

        App = await builder.BuildAsync().WaitAsync(DefaultTimeout);
        await App.StartAsync().WaitAsync(DefaultTimeout);
        await App.ResourceNotifications.WaitForResourceHealthyAsync("api").WaitAsync(DefaultTimeout);
        await App.ResourceNotifications.WaitForResourceHealthyAsync("web").WaitAsync(DefaultTimeout);
        ApiBaseAddress = App.GetEndpoint("api", "http");
        WebBaseAddress = App.GetEndpoint("web", "http");
        ClientKey = await CreateClientKeyAsync();
    }

    private async Task<string> CreateClientKeyAsync()
    {
        using var admin = new HttpClient { BaseAddress = ApiBaseAddress };
        admin.DefaultRequestHeaders.Authorization = new("Bearer", MasterKey);
        using var tenant = await admin.PostAsJsonAsync("/admin/v1/tenants", new { name = "end-to-end tests" });
        tenant.EnsureSuccessStatusCode();
        var tenantId = (await tenant.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetString();
        using var key = await admin.PostAsJsonAsync("/admin/v1/keys", new { tenantId, name = "end-to-end client" });
        key.EnsureSuccessStatusCode();
        return (await key.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("key").GetString()!;
    }

    public async Task DisposeAsync()
    {
        if (App is not null)
        {
            await App.StopAsync().WaitAsync(DefaultTimeout);
            await App.DisposeAsync();
        }
        if (Telemetry is not null)
        {
            await Telemetry.DisposeAsync();
        }
        if (Webhooks is not null)
        {
            await Webhooks.DisposeAsync();
        }
        Directory.Delete(_dataDirectory, recursive: true);
    }
}

[CollectionDefinition(Name)]
public sealed class AppHostCollection : ICollectionFixture<AppHostFixture>
{
    public const string Name = "apphost";
}
