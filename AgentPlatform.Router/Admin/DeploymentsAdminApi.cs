using AgentPlatform.Router.Pool;
using AgentPlatform.Router.Resilience;

namespace AgentPlatform.Router.Admin;

/// <summary>
/// The live state of every deployment as this Router replica sees it, for the Api's
/// <c>GET /admin/v1/deployments</c>. Breaker states agree across replicas (shared through Redis);
/// requests in flight, latency and error rate are this replica's. Never a provider key.
/// </summary>
public static class DeploymentsAdminApi
{
    public static IEndpointRouteBuilder MapDeploymentsAdminApi(this IEndpointRouteBuilder app)
    {
        app.MapGet("/admin/v1/deployments", ListDeployments)
            .WithTags("Admin")
            .WithName("ListDeployments")
            .WithSummary("Every deployment of every model group with its live state.");
        return app;
    }

    private static IResult ListDeployments(ModelPool pool, TimeProvider timeProvider)
    {
        var now = timeProvider.GetUtcNow();
        return TypedResults.Ok(new
        {
            @object = "list",
            data = pool.Groups.OrderBy(g => g.Name, StringComparer.Ordinal).SelectMany(group => group.Deployments.Select(d => Describe(group, d, now))),
        });
    }

    private static object Describe(ModelGroup group, Deployment deployment, DateTimeOffset now)
    {
        var (attempts, errorRate) = deployment.State.RecentOutcomes();
        var (requestsLeft, tokensLeft) = deployment.Headroom(now.ToUnixTimeMilliseconds());
        var breaker = deployment.Breaker;
        var coolDownUntil = new DateTimeOffset(deployment.State.CoolDownUntilTicks, TimeSpan.Zero);
        return new
        {
            modelGroup = group.Name,
            strategy = group.Strategy.Name,
            name = deployment.Name,
            provider = deployment.Provider,
            model = deployment.Model,
            priority = deployment.Priority,
            weight = deployment.Weight,
            available = deployment.IsAvailable(now.UtcTicks),
            breaker = new
            {
                state = breaker.State switch { CircuitState.Open => "open", CircuitState.HalfOpen => "half_open", _ => "closed" },
                openUntil = breaker.State == CircuitState.Open ? breaker.OpenUntil : (DateTimeOffset?)null,
                breaks = breaker.Breaks,
            },
            coolingDownUntil = coolDownUntil > now ? coolDownUntil : (DateTimeOffset?)null,
            inFlight = deployment.State.InFlight,
            latencyEwmaMs = Math.Round(deployment.State.LatencyEwmaMs, 3),
            attemptsLastMinute = attempts,
            errorRateLastMinute = Math.Round(errorRate, 4),
            lastError = deployment.State.LatestError is { } error ? new { message = error.Message, at = error.At } : null,
            capacity = new
            {
                rpm = deployment.Rpm,
                rpmInUse = deployment.Rpm - requestsLeft is { } rpmUsed ? Math.Round(rpmUsed, 1) : (double?)null,
                tpm = deployment.Tpm,
                tpmInUse = deployment.Tpm - tokensLeft is { } tpmUsed ? Math.Round(tpmUsed) : (double?)null,
            },
            prices = new
            {
                inputPerMillion = deployment.InputPricePerMillion,
                cachedInputPerMillion = deployment.CachedInputPricePerMillion,
                outputPerMillion = deployment.OutputPricePerMillion,
            },
        };
    }
}
