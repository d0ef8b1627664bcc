using AgentPlatform.Api;
using AgentPlatform.Api.Agents;
using AgentPlatform.Api.Alerts;
using AgentPlatform.Api.Caching;
using AgentPlatform.Api.Errors;
using AgentPlatform.Api.Access;
using AgentPlatform.Api.Limits;
using AgentPlatform.Api.Pipeline;
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

        // Bound once, without BindConfiguration's change token: nothing here reloads, and with the token
        // an invalid edit of a reloading source would make the options monitor throw from the reload.
        builder.Services.AddOptionsWithValidateOnStart<ApiOptions>()
            .Configure<IConfiguration>((options, configuration) => configuration.GetSection(ApiOptions.SectionName).Bind(options))
            .ValidateDataAnnotations();
        builder.Services.AddOptionsWithValidateOnStart<CacheOptions>()
            .Configure<IConfiguration>((options, configuration) => configuration.GetSection(CacheOptions.SectionName).Bind(options))
            .ValidateDataAnnotations();
        builder.Services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<CacheOptions>, CacheOptionsRulesValidator>());
        // Kestrel refuses bodies over the same limit, so a chunked body cannot get past it either.
        builder.Services.AddOptions<KestrelServerOptions>()
            .Configure<IOptions<ApiOptions>>((kestrel, api) => kestrel.Limits.MaxRequestBodySize = api.Value.MaxRequestBodyBytes);

        // UseExceptionHandler() needs ProblemDetails registered even though our handler always answers.
        builder.Services.AddProblemDetails();
        builder.Services.AddExceptionHandler<OpenAIExceptionHandler>();
        builder.Services.TryAddSingleton(TimeProvider.System);
#pragma warning disable RS0030 // The composition root hands out the one thread-safe Random; everything else takes it injected.
        builder.Services.TryAddSingleton(Random.Shared);
#pragma warning restore RS0030
        // Who calls: a virtual key on /v1, the master key on /admin/v1 (AccessPolicies on the route groups).
        builder.Services.AddKeyAuthentication();
        builder.Services.TryAddSingleton<MasterKeyAuthenticator>();
        builder.Services.TryAddSingleton<TenancyStore>();
        builder.Services.TryAddSingleton<AgentStore>();
        builder.Services.AddOptionsWithValidateOnStart<AgentOptions>()
            .Configure<IConfiguration>((options, configuration) => configuration.GetSection(AgentOptions.SectionName).Bind(options))
            .ValidateDataAnnotations();
        builder.Services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<AgentOptions>, McpAllowedHostsValidator>());
        builder.Services.TryAddSingleton<AgentRunStore>();
        builder.Services.TryAddSingleton<AgentRunner>();
        builder.Services.TryAddSingleton<AgentCompletions>();
        builder.Services.TryAddSingleton<ClientAuthenticator>();
        builder.Services.TryAddSingleton<FailedAuthentications>();
        builder.Services.TryAddSingleton<RequestLimiter>();
        builder.Services.TryAddSingleton<PromptTokenEstimator>();
        builder.Services.TryAddSingleton<PriceTable>();
        builder.Services.TryAddSingleton<UsageMeter>();
        builder.Services.TryAddSingleton<CacheStage>();
        builder.Services.TryAddSingleton<ChatPipeline>();
        builder.Services.TryAddSingleton<UsageMetrics>();
        builder.Services.TryAddSingleton<UsageLedger>();
        builder.Services.AddHostedService(services => services.GetRequiredService<UsageLedger>());
        builder.Services.AddHostedService<TenancyChangesListener>();
        builder.Services.TryAddSingleton<RouterClient>();
        builder.Services.TryAddSingleton<CacheMetrics>();
        builder.Services.TryAddSingleton<ResponseCache>();

        builder.Services.AddOptionsWithValidateOnStart<AlertOptions>()
            .Configure<IConfiguration>((options, configuration) => configuration.GetSection(AlertOptions.SectionName).Bind(options))
            .ValidateDataAnnotations();
        builder.Services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<AlertOptions>, AlertRulesValidator>());
        builder.Services.TryAddSingleton<AlertStore>();
        builder.Services.TryAddSingleton<BudgetConditions>();
        builder.Services.TryAddSingleton<DeploymentConditions>();
        builder.Services.TryAddSingleton<AlertNotifier>();
        builder.Services.TryAddSingleton<ReplicaConditions>();
        builder.Services.TryAddSingleton<AlertEvaluator>();
        builder.Services.AddHostedService(services => services.GetRequiredService<AlertEvaluator>());
        // Webhooks get our own retries (AlertNotifier), not the default pipeline's on top of them, and no
        // request logging: a webhook's URL is its credential (Slack's are) and must not reach the logs.
        var alerts = builder.Services.AddHttpClient(AlertNotifier.HttpClientName, client => client.Timeout = TimeSpan.FromSeconds(10))
            .RemoveAllLoggers()
            .RedactUrlInTraces();
#pragma warning disable EXTEXP0001 // experimental, but the documented way to opt one client out of the default resilience
        alerts.RemoveAllResilienceHandlers();
#pragma warning restore EXTEXP0001

        // MCP servers hold a stream open for their session: no total timeout or retries of the default pipeline
        // (a tool call has its own timeout, and a call must not be repeated on a server that may have acted on it);
        // no request logging either: a server's URL may carry its credential, as a webhook's does.
        // And it connects only where McpHostPolicy allows (no proxy, which would connect elsewhere).
        builder.Services.TryAddSingleton<McpHostPolicy>();
        var mcp = builder.Services.AddHttpClient(AgentRunner.McpHttpClientName, client => client.Timeout = Timeout.InfiniteTimeSpan)
            .ConfigurePrimaryHttpMessageHandler(services => new SocketsHttpHandler
            {
                ConnectCallback = services.GetRequiredService<McpHostPolicy>().ConnectAsync,
                UseProxy = false,
            })
            .RemoveAllLoggers()
            .RedactUrlInTraces();
#pragma warning disable EXTEXP0001
        mcp.RemoveAllResilienceHandlers();
#pragma warning restore EXTEXP0001

        // "http://router" is resolved by service discovery: services:router:http:0 in configuration. Every
        // call (completions, agents' steps, prices, drains, the readiness probe) carries the internal key.
        builder.Services.TryAddTransient<InternalKeyHandler>();
        builder.Services.AddHttpClient(RouterClient.HttpClientName, client => client.BaseAddress = new Uri("http://router"))
            .AsCompletionClient()
            .AddHttpMessageHandler<InternalKeyHandler>();
        builder.Services.AddHealthChecks().AddCheck<RouterHealthCheck>("router");
        return builder;
    }
}
