using AgentPlatform.Api;
using AgentPlatform.Api.Agents;
using AgentPlatform.Api.Alerts;
using AgentPlatform.Api.Caching;
using AgentPlatform.Api.Errors;
using AgentPlatform.Api.Access;
using AgentPlatform.Api.Limits;
using AgentPlatform.Api.Pipeline;
using AgentPlatform.Api.Responses;
using AgentPlatform.Api.Tenancy;
using AgentPlatform.Api.Upstream;
using AgentPlatform.Api.Usage;
using AgentPlatform.ServiceDefaults.Http;
using AgentPlatform.Tokens;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace Microsoft.Extensions.Hosting;

public static class ApiServiceCollectionExtensions
{
    public static IHostApplicationBuilder AddApiServices(this IHostApplicationBuilder builder)
    {
        // Tenants, keys, limits, budgets, usage and the response cache live here; /health checks it.
        // On the thread pool, not StackExchange.Redis's own pipe scheduler: with two cores its dedicated
        // threads took a fifth of the Api's CPU on the benchmark's miss path (dotnet-trace). Its spans are
        // off in appsettings.json (Aspire:StackExchange:Redis:DisableTracing): profiling every command
        // cost a quarter of the cache-hit throughput and ~500 MB when loaded (bench/run.sh).
        builder.AddRedisClient("cache", configureOptions: options => options.SocketManager = SocketManager.ThreadPool);

        var services = builder.Services;
        services.BindValidated<ApiOptions>(ApiOptions.SectionName);
        // Kestrel refuses bodies over the same limit, so a chunked body cannot get past it either.
        services.AddOptions<KestrelServerOptions>()
            .Configure<IOptions<ApiOptions>>((kestrel, api) => kestrel.Limits.MaxRequestBodySize = api.Value.MaxRequestBodyBytes);
        // UseExceptionHandler() needs ProblemDetails registered even though our handler always answers.
        services.AddProblemDetails();
        services.AddExceptionHandler<OpenAIExceptionHandler>();
        services.TryAddSingleton(TimeProvider.System);
#pragma warning disable RS0030 // The composition root hands out the one thread-safe Random; everything else takes it injected.
        services.TryAddSingleton(Random.Shared);
#pragma warning restore RS0030

        AddGateway(services);
        AddAgents(services);
        AddAlerts(services);
        AddRouterClient(services);
        return builder;
    }

    /// <summary>The chat door's stages: who calls, their limits and budgets, the cache, the usage ledger.</summary>
    private static void AddGateway(IServiceCollection services)
    {
        // Who calls: a virtual key on /v1, the master key on /admin/v1 (AccessPolicies on the route groups).
        services.AddKeyAuthentication();
        services.TryAddSingleton<MasterKeyAuthenticator>();
        services.TryAddSingleton<TenancyStore>();
        // First of the hosted services: tenants and keys are where this version reads them before anything serves.
        services.AddHostedService<TenancyKeyMigration>();
        services.TryAddSingleton<ClientAuthenticator>();
        services.TryAddSingleton<FailedAuthentications>();
        services.TryAddSingleton<RequestLimiter>();
        services.TryAddSingleton<PromptTokenEstimator>();
        services.TryAddSingleton<PriceTable>();
        services.TryAddSingleton<UsageMeter>();
        services.TryAddSingleton<UsageMetrics>();
        services.TryAddSingleton<UsageLedger>();
        services.AddHostedService<UsageKeyMigration>();
        // Stopped after the listener (hosted services stop in reverse): the last requests' records are written last.
        services.AddHostedService(provider => provider.GetRequiredService<UsageLedger>());
        services.AddHostedService<TenancyChangesListener>();
        services.BindValidated<CacheOptions>(CacheOptions.SectionName);
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<CacheOptions>, CacheOptionsRulesValidator>());
        services.TryAddSingleton<CacheMetrics>();
        services.TryAddSingleton<ResponseCache>();
        services.TryAddSingleton<CacheStage>();
        services.TryAddSingleton<ChatPipeline>();
        services.TryAddSingleton<ResponseStore>();
    }

    private static void AddAgents(IServiceCollection services)
    {
        services.BindValidated<AgentOptions>(AgentOptions.SectionName);
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<AgentOptions>, McpAllowedHostsValidator>());
        services.TryAddSingleton<AgentStore>();
        services.AddHostedService<AgentKeyMigration>();
        services.TryAddSingleton<AgentRunStore>();
        services.TryAddSingleton<AgentRunner>();
        services.TryAddSingleton<AgentCompletions>();

        // MCP servers hold a stream open for their session: no total timeout or retries of the default pipeline
        // (a tool call has its own timeout, and a call must not be repeated on a server that may have acted on it);
        // no request logging either: a server's URL may carry its credential, as a webhook's does.
        // And it connects only where McpHostPolicy allows (no proxy, which would connect elsewhere).
        services.TryAddSingleton<McpHostPolicy>();
        var mcp = services.AddHttpClient(AgentRunner.McpHttpClientName, client => client.Timeout = Timeout.InfiniteTimeSpan)
            .ConfigurePrimaryHttpMessageHandler(provider => new SocketsHttpHandler
            {
                ConnectCallback = provider.GetRequiredService<McpHostPolicy>().ConnectAsync,
                UseProxy = false,
            })
            .RemoveAllLoggers()
            .RedactUrlInTraces();
#pragma warning disable EXTEXP0001 // experimental, but the documented way to opt one client out of the default resilience
        mcp.RemoveAllResilienceHandlers();
#pragma warning restore EXTEXP0001
    }

    private static void AddAlerts(IServiceCollection services)
    {
        services.BindValidated<AlertOptions>(AlertOptions.SectionName);
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<AlertOptions>, AlertRulesValidator>());
        services.TryAddSingleton<AlertStore>();
        // Before the evaluator, which adds the configured rules that are missing.
        services.AddHostedService<AlertKeyMigration>();
        services.TryAddSingleton<BudgetConditions>();
        services.TryAddSingleton<DeploymentConditions>();
        services.TryAddSingleton<AlertNotifier>();
        services.TryAddSingleton<ReplicaConditions>();
        services.TryAddSingleton<AlertEvaluator>();
        services.AddHostedService(provider => provider.GetRequiredService<AlertEvaluator>());
        // Webhooks get our own retries (AlertNotifier), not the default pipeline's on top of them, and no
        // request logging: a webhook's URL is its credential (Slack's are) and must not reach the logs.
        var alerts = services.AddHttpClient(AlertNotifier.HttpClientName, client => client.Timeout = TimeSpan.FromSeconds(10))
            .RemoveAllLoggers()
            .RedactUrlInTraces();
#pragma warning disable EXTEXP0001 // see AddAgents
        alerts.RemoveAllResilienceHandlers();
#pragma warning restore EXTEXP0001
    }

    private static void AddRouterClient(IServiceCollection services)
    {
        // "http://router" is resolved by service discovery: services:router:http:0 in configuration. Every
        // call (completions, agents' steps, prices, drains, the readiness probe) carries the internal key.
        services.TryAddSingleton<RouterClient>();
        services.TryAddSingleton<RouterReplicas>();
        services.TryAddTransient<InternalKeyHandler>();
        services.AddHttpClient(RouterClient.HttpClientName, client => client.BaseAddress = new Uri("http://router"))
            .AsCompletionClient()
            .AddHttpMessageHandler<InternalKeyHandler>();
        services.AddHealthChecks().AddCheck<RouterHealthCheck>("router");
    }

    /// <summary>
    /// Options bound once from their section and validated at start-up. Without BindConfiguration's
    /// change token: nothing here reloads, and with the token an invalid edit of a reloading source would
    /// make the options monitor throw from the reload.
    /// </summary>
    private static void BindValidated<TOptions>(this IServiceCollection services, string section) where TOptions : class =>
        services.AddOptionsWithValidateOnStart<TOptions>()
            .Configure<IConfiguration>((options, configuration) => configuration.GetSection(section).Bind(options))
            .ValidateDataAnnotations();
}
