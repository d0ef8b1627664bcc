using AgentPlatform.Api.Agents;
using AgentPlatform.Contracts.Admin;

namespace AgentPlatform.Tests.Api.Agents;

/// <summary>A run's own limits: steps, tokens, cost (never passed, a step's worst case counted first) and tool-call loops.</summary>
public sealed class RunGuardTests
{
    private static AgentDefinition Agent(int maxSteps = 10, long? maxTokens = null, decimal? maxCostUsd = null) =>
        new() { Name = "a", Instructions = "x", Model = "default", MaxSteps = maxSteps, MaxTokens = maxTokens, MaxCostUsd = maxCostUsd };

    [Fact]
    public void A_run_stops_at_its_step_limit()
    {
        var guard = new RunGuard(Agent(maxSteps: 2));

        Assert.Null(guard.BeforeStep(100, 0.01m));
        guard.AfterStep(80, 0.008m);
        Assert.Null(guard.BeforeStep(100, 0.01m));
        guard.AfterStep(90, 0.009m);

        Assert.Equal(RunStopReasons.MaxSteps, guard.BeforeStep(100, 0.01m));
        Assert.Equal((2, 170L, 0.017m), (guard.Steps, guard.Tokens, guard.CostUsd));
    }

    [Fact]
    public void A_step_whose_worst_case_would_pass_the_runs_cost_or_tokens_does_not_start()
    {
        var byCost = new RunGuard(Agent(maxCostUsd: 0.05m));
        var byTokens = new RunGuard(Agent(maxTokens: 1_000));
        byCost.AfterStep(500, 0.03m);
        byTokens.AfterStep(700, 0.03m);

        Assert.Null(byCost.BeforeStep(200, 0.02m)); // exactly the maximum: allowed
        Assert.Equal(RunStopReasons.MaxCost, byCost.BeforeStep(200, 0.021m));
        Assert.Null(byTokens.BeforeStep(300, 1m));
        Assert.Equal(RunStopReasons.MaxTokens, byTokens.BeforeStep(301, 0m));
    }

    [Fact]
    public void The_same_tool_call_a_third_time_stops_the_run_whatever_the_order_of_its_arguments()
    {
        var guard = new RunGuard(Agent());

        Assert.Null(guard.OnToolCall("lookup_order", """{"order":"A-17","verbose":true}"""));
        Assert.Null(guard.OnToolCall("lookup_order", """{ "verbose": true, "order": "A-17" }"""));
        Assert.Null(guard.OnToolCall("lookup_order", """{"order":"A-18","verbose":true}""")); // other arguments: another call
        Assert.Null(guard.OnToolCall("add", """{"order":"A-17","verbose":true}"""));

        Assert.Equal(RunStopReasons.RepeatedToolCall, guard.OnToolCall("lookup_order", """{"verbose":true,"order":"A-17"}"""));
    }

    [Theory]
    [InlineData(null, "{}")]
    [InlineData("  ", "{}")]
    [InlineData("""{"b":{"d":1,"c":[{"z":1,"y":2}]},"a":null}""", """{"a":null,"b":{"c":[{"y":2,"z":1}],"d":1}}""")]
    [InlineData("not json", "not json")]
    public void Arguments_are_compared_in_a_canonical_form(string? json, string canonical) =>
        Assert.Equal(canonical, RunGuard.Canonical(json));
}
