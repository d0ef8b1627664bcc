using AgentPlatform.Router.Access;
using AgentPlatform.Router.Configuration;
using AgentPlatform.Router.Forwarding;
using AgentPlatform.Router.Pool;
using AgentPlatform.Router.Providers;
using AgentPlatform.Router.Providers.Anthropic;
using AgentPlatform.Router.Providers.AzureOpenAI;
using AgentPlatform.Router.Providers.OpenAI;
using AgentPlatform.Router.Resilience;
using AgentPlatform.Router.Routing;
using AgentPlatform.Router.Telemetry;
using AgentPlatform.Tokens;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace Microsoft.Extensions.Hosting;

public static class RouterServiceCollectionExtensions
{
    public static IHostApplicationBuilder AddRouterServices(this IHostApplicationBuilder builder)
    {
        // Breaker states are shared between Router replicas here; /health checks it.
        // On the thread pool, not StackExchange.Redis's own pipe scheduler: with two cores its dedicated
        // threads took a fifth of the Api's CPU on the benchmark's miss path (dotnet-trace). No span per
        // command (appsettings.json), as in the Api: the instrumentation profiles each one.
        builder.AddRedisClient("cache", configureOptions: options => options.SocketManager = SocketManager.ThreadPool);

        // The key every caller presents; without it the Router refuses to start, naming the setting.
        builder.Services.AddOptionsWithValidateOnStart<InternalAccessOptions>()
            .Configure<IConfiguration>((options, configuration) => configuration.GetSection(InternalAccessOptions.SectionName).Bind(options))
            .ValidateDataAnnotations();

        // Bound once, without BindConfiguration's change token: the ModelPool reloads the pool itself
        // and keeps the last good one, where an options monitor would throw on an invalid edit.
        builder.Services.AddOptionsWithValidateOnStart<RouterOptions>()
            .Configure<IConfiguration>((options, configuration) => configuration.GetSection(RouterOptions.SectionName).Bind(options))
            .ValidateDataAnnotations();
        builder.Services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<RouterOptions>, RouterPoolValidator>());

        builder.Services.TryAddSingleton(TimeProvider.System);
        // Random.Shared is thread-safe; tests give the strategies a seeded Random instead.
#pragma warning disable RS0030 // The composition root hands out the one thread-safe Random; everything else takes it injected.
        builder.Services.TryAddSingleton(Random.Shared);
#pragma warning restore RS0030
        builder.Services.TryAddSingleton<WeightedRoutingStrategy>();
        builder.Services.TryAddEnumerable(ServiceDescriptor.Singleton<IRoutingStrategy, WeightedRoutingStrategy>(s => s.GetRequiredService<WeightedRoutingStrategy>()));
        builder.Services.TryAddEnumerable(ServiceDescriptor.Singleton<IRoutingStrategy, LeastBusyRoutingStrategy>());
        builder.Services.TryAddEnumerable(ServiceDescriptor.Singleton<IRoutingStrategy, LowestLatencyRoutingStrategy>());
        builder.Services.TryAddEnumerable(ServiceDescriptor.Singleton<IRoutingStrategy, UsageBasedRoutingStrategy>());
        builder.Services.TryAddEnumerable(ServiceDescriptor.Singleton<IRoutingStrategy, CheapestRoutingStrategy>());
        builder.Services.TryAddEnumerable(ServiceDescriptor.Singleton<IProviderAdapter, OpenAIAdapter>());
        builder.Services.TryAddEnumerable(ServiceDescriptor.Singleton<IProviderAdapter, AzureOpenAIAdapter>());
        builder.Services.TryAddEnumerable(ServiceDescriptor.Singleton<IProviderAdapter, AnthropicAdapter>());
        builder.Services.TryAddSingleton<CircuitBreakerEvents>();
        builder.Services.TryAddSingleton<ICircuitBreakerListener>(s => s.GetRequiredService<CircuitBreakerEvents>());
        builder.Services.AddHostedService<SharedBreakerState>();
        builder.Services.TryAddSingleton<ModelPool>();
        builder.Services.TryAddSingleton<DeploymentDrains>();
        builder.Services.AddHostedService(services => services.GetRequiredService<DeploymentDrains>());
        builder.Services.TryAddSingleton<PromptTokenEstimator>();
        builder.Services.TryAddSingleton<CapacityLimiter>();
        builder.Services.TryAddSingleton<DeploymentStats>();
        builder.Services.AddHostedService(services => services.GetRequiredService<DeploymentStats>());
        builder.Services.TryAddSingleton<RouterMetrics>();
        builder.Services.AddHostedService<PoolMetrics>(); // built at start, so its gauges exist before the first scrape
        builder.Services.TryAddSingleton<ChatForwarder>();
        builder.Services.TryAddSingleton<UpstreamInvoker>();
        return builder;
    }
}
