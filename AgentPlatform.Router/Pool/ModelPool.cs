using System.Diagnostics.CodeAnalysis;
using System.Text.Json;
using AgentPlatform.Router.Configuration;
using AgentPlatform.Router.Providers;
using AgentPlatform.Router.Resilience;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Primitives;

namespace AgentPlatform.Router.Pool;

/// <summary>
/// Every model group the Router serves, by name. Rebuilt when the <c>Router</c> configuration changes
/// (a reloading source: appsettings.json, a mounted file...): a valid edit takes effect for the next
/// request, keeping the live state (breaker, latency, cool-down) of every deployment it leaves as it
/// was; an invalid one is refused with the keys it breaks, and the last good pool stays.
/// </summary>
public sealed class ModelPool : IDisposable
{
    private readonly IConfiguration _configuration;
    private readonly IEnumerable<IValidateOptions<RouterOptions>> _validators;
    private readonly Dictionary<string, IRoutingStrategy> _strategies;
    private readonly Dictionary<string, IProviderAdapter> _adapters;
    private readonly ICircuitBreakerListener _breakerListener;
    private readonly TimeProvider _timeProvider;
    private readonly ILogger<ModelPool> _logger;
    private readonly IDisposable _reloadSubscription;
    private volatile Dictionary<string, ModelGroup> _groups;
    private string _configurationJson;

    public ModelPool(
        IOptions<RouterOptions> options,
        IConfiguration configuration,
        IEnumerable<IValidateOptions<RouterOptions>> validators,
        IEnumerable<IRoutingStrategy> strategies,
        IEnumerable<IProviderAdapter> adapters,
        ICircuitBreakerListener breakerListener,
        TimeProvider timeProvider,
        ILogger<ModelPool> logger)
    {
        _configuration = configuration;
        _validators = validators;
        _strategies = strategies.ToDictionary(s => s.Name, StringComparer.Ordinal);
        _adapters = adapters.ToDictionary(a => a.Name, StringComparer.Ordinal);
        _breakerListener = breakerListener;
        _timeProvider = timeProvider;
        _logger = logger;
        _groups = Build(options.Value, previous: null);
        _configurationJson = Json(options.Value);
        _reloadSubscription = ChangeToken.OnChange(configuration.GetReloadToken, Reload);
    }

    public IEnumerable<ModelGroup> Groups => _groups.Values;

    /// <summary>Raised after a reload has replaced the pool.</summary>
    public event Action? Changed;

    public bool TryGetGroup(string name, [NotNullWhen(true)] out ModelGroup? group) => _groups.TryGetValue(name, out group);

    public Deployment? FindDeployment(string group, string name) =>
        _groups.TryGetValue(group, out var found) ? found.Deployments.FirstOrDefault(d => d.Name == name) : null;

    private void Reload()
    {
        var options = new RouterOptions();
        _configuration.GetSection(RouterOptions.SectionName).Bind(options);
        var json = Json(options);
        if (json == _configurationJson)
        {
            return; // another section changed
        }
        var failures = _validators.Select(v => v.Validate(Options.DefaultName, options)).Where(r => r.Failed).SelectMany(r => r.Failures ?? []).ToList();
        if (failures.Count > 0)
        {
            Log.PoolReloadRefused(_logger, string.Join(" ", failures));
            return;
        }
        _groups = Build(options, _groups);
        _configurationJson = json;
        Log.PoolReloaded(_logger, _groups.Count, _groups.Values.Sum(g => g.Deployments.Count));
        Changed?.Invoke();
    }

    private Dictionary<string, ModelGroup> Build(RouterOptions router, Dictionary<string, ModelGroup>? previous) =>
        router.ModelGroups.ToDictionary(
            pair => pair.Key,
            pair =>
            {
                var before = previous?.GetValueOrDefault(pair.Key);
                return new ModelGroup(
                    pair.Key,
                    pair.Value.Deployments.Select(d => Reuse(before, d) ?? new Deployment(pair.Key, d, _adapters[d.Provider], _timeProvider, router.CircuitBreaker, _breakerListener, router.LatencyDecaySeconds)),
                    _strategies[pair.Value.Strategy],
                    before?.RetryBudget ?? new RetryBudget(router.Retry, _timeProvider),
                    pair.Value.Fallbacks,
                    pair.Value.ContextWindowFallbacks);
            },
            StringComparer.Ordinal);

    /// <summary>The deployment as it was, with its live state, when its configuration has not changed.</summary>
    private static Deployment? Reuse(ModelGroup? before, DeploymentOptions options) =>
        before?.Deployments.FirstOrDefault(d => d.Name == options.Name && d.OptionsJson == Json(options));

    internal static string Json<T>(T options) => JsonSerializer.Serialize(options);

    public void Dispose() => _reloadSubscription.Dispose();
}
