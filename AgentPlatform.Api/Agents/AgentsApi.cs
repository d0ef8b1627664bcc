using AgentPlatform.Api.Tenancy;
using AgentPlatform.ServiceDefaults.Agents;

namespace AgentPlatform.Api.Agents;

/// <summary>
/// <c>GET /v1/agents</c>: the agents the caller's key may run — allowed for its tenant, on a model group
/// the key and tenant may use. What a client needs to call one; not its instructions or where its tools live.
/// </summary>
public static class AgentsApi
{
    public static IEndpointRouteBuilder MapAgentsApi(this IEndpointRouteBuilder app)
    {
        app.MapGet("/v1/agents", ListAsync)
            .WithTags("Agents")
            .WithName("ListAgentsForClient")
            .WithSummary("Lists the agents this key may run.");
        return app;
    }

    private static async Task ListAsync(HttpContext context, ClientAuthenticator authenticator, AgentStore store)
    {
        if (await authenticator.AuthenticateAsync(context) is not { } client)
        {
            return;
        }
        var agents = (await store.ListAsync()).Where(agent => client.MayRun(agent));
        await context.Response.WriteAsJsonAsync(new
        {
            @object = "list",
            data = agents.Select(agent => new
            {
                id = agent.Name,
                @object = "agent",
                description = agent.Description,
                model = agent.Model,
                version = agent.Version,
                tools = agent.Tools.SelectMany(t => t.AllowedTools).Distinct(StringComparer.Ordinal),
                maxSteps = agent.MaxSteps,
                maxTokens = agent.MaxTokens,
                maxCostUsd = agent.MaxCostUsd,
                updatedAt = agent.UpdatedAt,
            }),
        }, AgentDefinition.Json, context.RequestAborted);
    }

    /// <summary>Whether the client may run the agent: its tenant is allowed (the master key, tenantless, is), and so is the model group.</summary>
    public static bool MayRun(this ClientIdentity client, AgentDefinition agent) =>
        (client.Tenant is null || agent.AllowsTenant(client.Tenant.Id)) && client.AllowsModel(agent.Model);
}
