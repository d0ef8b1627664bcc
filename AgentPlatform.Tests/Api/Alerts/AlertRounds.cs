using AgentPlatform.Api;
using AgentPlatform.Api.Alerts;
using AgentPlatform.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;

namespace AgentPlatform.Tests.Api.Alerts;

/// <summary>
/// Waits on the replicas' alert evaluators themselves rather than on a clock: "nothing more was sent"
/// holds only after rounds that could have sent it, however slow the machine is.
/// </summary>
public static class AlertRounds
{
    /// <summary>Until every replica has finished <paramref name="rounds"/> more rounds.</summary>
    public static async Task PassAsync(int rounds, params KestrelApp<ApiOptions>[] replicas)
    {
        var evaluators = Evaluators(replicas);
        var until = evaluators.Select(e => e.Rounds + rounds).ToArray();
        await Eventually.TrueAsync(() => evaluators.Select((e, i) => e.Rounds >= until[i]).All(done => done),
            $"{rounds} more alert rounds on each of {replicas.Length} replicas");
    }

    /// <summary>Until one replica holds the evaluator's lease.</summary>
    public static Task LeaderAsync(params KestrelApp<ApiOptions>[] replicas)
    {
        var evaluators = Evaluators(replicas);
        return Eventually.TrueAsync(() => evaluators.Any(e => e.IsLeading), "a replica leading the alert evaluation");
    }

    private static AlertEvaluator[] Evaluators(KestrelApp<ApiOptions>[] replicas) =>
        [.. replicas.Select(replica => replica.Services.GetRequiredService<AlertEvaluator>())];
}
