using AgentPlatform.Contracts.OpenAI;
using AgentPlatform.Simulator.Faults;

namespace AgentPlatform.Simulator;

/// <summary>The <c>/sim</c> control surface: faults at run time, and counters.</summary>
public static class SimulatorControlApi
{
    public static IEndpointRouteBuilder MapSimulatorControlApi(this IEndpointRouteBuilder app)
    {
        var sim = app.MapGroup("/sim").WithTags("Simulator");
        sim.MapGet("/faults", (FaultInjector faults) => TypedResults.Ok(faults.Current))
            .WithName("ListFaults").WithSummary("The faults in force.");
        sim.MapPost("/faults", SetFaultAsync)
            .WithName("SetFault").WithSummary("Sets one fault kind's rate (0 removes it).");
        sim.MapDelete("/faults", (FaultInjector faults) =>
        {
            faults.Clear();
            return TypedResults.NoContent();
        }).WithName("ClearFaults").WithSummary("Removes every fault.");
        sim.MapGet("/stats", (SimulatorStats stats) => TypedResults.Ok(stats.Snapshot()))
            .WithName("GetStats").WithSummary("Counters of the requests that reached the simulator.");
        sim.MapPost("/stats/reset", (SimulatorStats stats) =>
        {
            stats.Reset();
            return TypedResults.NoContent();
        }).WithName("ResetStats").WithSummary("Zeroes the counters.");
        return app;
    }

    private static async Task SetFaultAsync(HttpContext context, FaultInjector faults)
    {
        FaultSpec? fault;
        try
        {
            fault = await context.Request.ReadFromJsonAsync<FaultSpec>(context.RequestAborted);
        }
        catch (System.Text.Json.JsonException)
        {
            fault = null;
        }
        if (fault is null)
        {
            await OpenAIError.WriteAsync(context, StatusCodes.Status400BadRequest, "The body must be {\"kind\": \"...\", \"rate\": 0.0-1.0}.", OpenAIError.InvalidRequest);
            return;
        }
        if (fault.Validate() is { } error)
        {
            await OpenAIError.WriteAsync(context, StatusCodes.Status400BadRequest, error, OpenAIError.InvalidRequest, param: "kind");
            return;
        }
        faults.Set(fault);
        await context.Response.WriteAsJsonAsync(faults.Current, context.RequestAborted);
    }
}
