using System.Text.Json;
using AgentPlatform.Api.Tenancy;
using AgentPlatform.Contracts.Admin;
using AgentPlatform.Contracts.OpenAI;
using AgentPlatform.ServiceDefaults.Http;
using Microsoft.AspNetCore.Http.HttpResults;

namespace AgentPlatform.Api.Agents;

/// <summary>
/// <c>/admin/v1/agents</c>: agent definitions — create, replace, read, list, delete — where every change
/// is a new version and every version stays readable.
/// </summary>
public static class AgentsAdminApi
{
    private const int MaxBodyBytes = 256 * 1024;

    public static RouteGroupBuilder MapAgentsAdminApi(this RouteGroupBuilder admin)
    {
        var agents = admin.MapGroup("/agents");
        agents.MapGet("", async (AgentStore store) => TypedResults.Ok(ListOf.Of(await store.ListAsync()))).WithName("ListAgents");
        agents.MapPost("", CreateAsync).WithName("CreateAgent").WithSummary("Creates an agent (409 if the name is taken); version 1.");
        agents.MapGet("/{name}", GetAsync).WithName("GetAgent");
        agents.MapPut("/{name}", PutAsync).WithName("PutAgent").WithSummary("Creates or replaces the agent: a new version every time.");
        agents.MapDelete("/{name}", DeleteAsync).WithName("DeleteAgent").WithSummary("Removes the agent; its versions stay readable.");
        agents.MapGet("/{name}/versions", VersionsAsync).WithName("ListAgentVersions").WithSummary("Every version of the agent, newest first.");
        agents.MapGet("/{name}/versions/{version:int}", VersionAsync).WithName("GetAgentVersion");
        return admin;
    }

    private static async Task<Results<JsonHttpResult<AgentDefinition>, OpenAIErrorResult>> CreateAsync(HttpContext context, AgentStore store, TenancyStore tenancy)
    {
        var (definition, refusal) = await ReadAsync(context, tenancy, nameFromUrl: null);
        if (refusal is not null)
        {
            return refusal;
        }
        if (await store.GetAsync(definition!.Name) is not null)
        {
            return new OpenAIErrorResult(StatusCodes.Status409Conflict,
                $"An agent named '{definition.Name}' exists already: PUT /admin/v1/agents/{definition.Name} to change it.", OpenAIError.InvalidRequest, "agent_exists", "name");
        }
        return Written(await store.SaveAsync(definition), StatusCodes.Status201Created);
    }

    private static async Task<Results<JsonHttpResult<AgentDefinition>, OpenAIErrorResult>> PutAsync(HttpContext context, AgentStore store, TenancyStore tenancy, string name)
    {
        var (definition, refusal) = await ReadAsync(context, tenancy, nameFromUrl: name);
        if (refusal is not null)
        {
            return refusal;
        }
        var created = await store.GetAsync(name) is null;
        return Written(await store.SaveAsync(definition!), created ? StatusCodes.Status201Created : StatusCodes.Status200OK);
    }

    private static async Task<Results<JsonHttpResult<AgentDefinition>, OpenAIErrorResult>> GetAsync(AgentStore store, string name) =>
        await store.GetAsync(name) is { } definition ? Written(definition) : NotFound(name);

    private static async Task<Results<Ok<Deletion>, OpenAIErrorResult>> DeleteAsync(AgentStore store, string name) =>
        await store.DeleteAsync(name) ? TypedResults.Ok(new Deletion(name)) : NotFound(name);

    private static async Task<Results<JsonHttpResult<ListOf<AgentDefinition>>, OpenAIErrorResult>> VersionsAsync(AgentStore store, string name)
    {
        var versions = await store.ListVersionsAsync(name);
        return versions.Count == 0 ? NotFound(name) : TypedResults.Json(ListOf.Of(versions), AgentDefinition.Json);
    }

    private static async Task<Results<JsonHttpResult<AgentDefinition>, OpenAIErrorResult>> VersionAsync(AgentStore store, string name, int version) =>
        await store.GetVersionAsync(name, version) is { } definition
            ? Written(definition)
            : OpenAIErrorResult.NotFound($"Agent '{name}' has no version {version}.", "agent_version_not_found");

    /// <summary>The body as a definition, or the 400 that names every problem found.</summary>
    private static async Task<(AgentDefinition? Definition, OpenAIErrorResult? Refusal)> ReadAsync(HttpContext context, TenancyStore tenancy, string? nameFromUrl)
    {
        using var body = await PooledRequestBody.ReadAsync(context.Request, MaxBodyBytes, context.RequestAborted);
        var problems = new List<string>();
        AgentDefinition? definition = null;
        if (body is null)
        {
            problems.Add($"The request body is larger than {MaxBodyBytes} bytes.");
        }
        else
        {
            try
            {
                definition = JsonSerializer.Deserialize<AgentDefinition>(body.Span, AgentDefinition.Json);
            }
            catch (JsonException exception)
            {
                problems.Add($"The body is not an agent definition: {exception.Message}");
            }
        }
        if (definition is null && problems.Count == 0)
        {
            problems.Add("The body must be a JSON object: {\"instructions\": \"...\", \"model\": \"default\"}.");
        }
        if (definition is not null)
        {
            if (nameFromUrl is not null)
            {
                if (!string.IsNullOrEmpty(definition.Name) && definition.Name != nameFromUrl)
                {
                    problems.Add($"The body's name '{definition.Name}' is not the URL's '{nameFromUrl}'.");
                }
                definition = definition with { Name = nameFromUrl };
            }
            // Version and time are the store's to set; lists left null become empty.
            definition = definition with { Version = 0, UpdatedAt = default, Tools = definition.Tools ?? [], TenantIds = definition.TenantIds ?? [] };
            problems.AddRange(definition.Problems());
            var hosts = context.RequestServices.GetRequiredService<McpHostPolicy>();
            foreach (var (tool, index) in definition.Tools.Select((t, i) => (t, i)))
            {
                if (Uri.TryCreate(tool.McpServerUrl, UriKind.Absolute, out var url) && hosts.Refuses(url) is { } refusal)
                {
                    problems.Add($"tools[{index}].mcpServerUrl may not be used: {refusal}.");
                }
            }
            foreach (var tenantId in definition.TenantIds.Distinct(StringComparer.Ordinal))
            {
                if (await tenancy.GetTenantAsync(tenantId) is null)
                {
                    problems.Add($"tenantIds: no tenant has the id '{tenantId}'.");
                }
            }
        }
        return problems.Count > 0 ? (null, OpenAIErrorResult.BadRequest(string.Join(" ", problems), "invalid_agent")) : (definition, null);
    }

    private static OpenAIErrorResult NotFound(string name) => OpenAIErrorResult.NotFound($"No agent is named '{name}'.", "agent_not_found");

    // Definitions are written as stored (AgentDefinition.Json: unset fields left out), the form the console edits.
    private static JsonHttpResult<AgentDefinition> Written(AgentDefinition definition, int status = StatusCodes.Status200OK) =>
        TypedResults.Json(definition, AgentDefinition.Json, statusCode: status);
}
